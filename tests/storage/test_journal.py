"""The card journal on local disk: bounded, whole records, and taken over from ended processes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cds.storage.journal import CardJournal, JournalFull, database_key
from cds.storage.records import EmittedCard

DATABASE = "postgresql://cds@db.example.org/cds"
AT = datetime(2026, 11, 24, 10, 5, 31, 123456, tzinfo=UTC)


def records(prefix: str, count: int) -> list[EmittedCard]:
    return [
        EmittedCard(
            f"{prefix}-{i}",
            "svc",
            "tca-dose",
            "warning",
            f"summary {i} ✓",
            AT,
            issuer="https://ehr.example.org",
            override_reasons=("patient-preference", "dose-intended"),
        )
        for i in range(count)
    ]


def journal_in_a_killed_process(state_dir: Path, batches: dict[str, int]) -> None:
    """Another process journals these batches (name → cards, made by `records`) and is
    killed before it can write them anywhere."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from cds.storage.journal import CardJournal
        from tests.storage.test_journal import records
        journal = CardJournal.open({str(state_dir)!r}, {DATABASE!r}, max_cards=100)
        for name, count in {batches!r}.items():
            journal.append(name, records(name, count))
        print("journaled", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert run.stdout == "journaled\n", run.stderr
    assert run.returncode == -9


def test_a_record_comes_back_whole_in_another_process(tmp_path: Path) -> None:
    journal_in_a_killed_process(tmp_path, {"batch-a": 3})
    successor = CardJournal.open(tmp_path, DATABASE, max_cards=100)
    assert successor.adopt_orphans() == 3
    [batch], unreadable = successor.oldest(max_cards=100)
    assert unreadable == []
    assert batch.batch_id == "batch-a"
    assert [dataclasses.asdict(r) for r in batch.records] == [
        dataclasses.asdict(r) for r in records("batch-a", 3)
    ]


def test_batches_leave_in_order_and_are_forgotten_once_written(tmp_path: Path) -> None:
    journal = CardJournal.open(tmp_path, DATABASE, max_cards=100)
    for name in "abc":
        journal.append(f"batch-{name}", records(name, 2))
    assert journal.pending_cards == 6
    batches, _ = journal.oldest(max_cards=4)
    assert [b.batch_id for b in batches] == ["batch-a", "batch-b"]
    journal.remove(b.seq for b in batches)
    assert journal.pending_cards == 2
    [last], _ = journal.oldest(max_cards=1)  # at least one batch, even over the limit
    assert last.batch_id == "batch-c"
    journal.remove([last.seq])
    journal.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_full_journal_refuses_the_batch_and_keeps_what_it_has(tmp_path: Path) -> None:
    journal = CardJournal.open(tmp_path, DATABASE, max_cards=5)
    journal.append("first", records("a", 4))
    with pytest.raises(JournalFull):
        journal.append("second", records("b", 2))
    journal.append("third", records("c", 1))
    assert journal.pending_cards == 5
    assert [b.batch_id for b in journal.oldest(max_cards=100)[0]] == ["first", "third"]


def test_only_journals_of_ended_processes_for_the_same_database_are_taken_over(
    tmp_path: Path,
) -> None:
    journal_in_a_killed_process(tmp_path, {"dead": 2})
    alive = CardJournal.open(tmp_path, DATABASE, max_cards=100)
    alive.append("alive", records("alive", 1))
    other_database = CardJournal.open(tmp_path, "sqlite:///elsewhere.db", max_cards=100)
    assert other_database.adopt_orphans() == 0

    successor = CardJournal.open(tmp_path, DATABASE, max_cards=100)
    # The killed process's journal is taken; the live one's is not (it holds its lock).
    assert successor.adopt_orphans() == 2
    [batch], _ = successor.oldest(max_cards=100)
    assert [r.card_uuid for r in batch.records] == ["dead-0", "dead-1"]
    assert alive.pending_cards == 1
    assert successor.adopt_orphans() == 0
    journals = sorted(p.name for p in (tmp_path / "journal").glob("*.sqlite"))
    assert journals == sorted(j.path.name for j in (alive, other_database, successor))


def test_a_journal_too_big_to_take_whole_is_taken_in_part_and_the_rest_later(
    tmp_path: Path,
) -> None:
    journal_in_a_killed_process(tmp_path, {"one": 2, "two": 2})
    successor = CardJournal.open(tmp_path, DATABASE, max_cards=3)
    assert successor.adopt_orphans() == 2
    successor.remove(b.seq for b in successor.oldest(max_cards=100)[0])
    assert successor.adopt_orphans() == 2
    assert [b.batch_id for b in successor.oldest(max_cards=100)[0]] == ["two"]


def test_the_database_key_ignores_the_password_and_resolves_relative_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert database_key("postgresql://cds:one@db/cds") == database_key(
        "postgresql://cds:two@db/cds"
    )
    assert database_key("postgresql://cds@db/cds") != database_key("postgresql://cds@db/other")
    monkeypatch.chdir(tmp_path)
    assert database_key("sqlite:///./cds.db") == database_key(f"sqlite:///{tmp_path}/cds.db")
