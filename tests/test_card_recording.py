"""Card records never hold up a hook; they wait in the journal while the database cannot
take them, survive a restart, are finished at shutdown; a full journal's losses are counted
in cards and logged once."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.ops.logging import JsonFormatter
from cds.settings import Settings
from tests.card_records import metric, recorded_uuids, recorder_of, wait_until
from tests.feedback_requests import drain_card_records, overridden, send_feedback, show_cards


def quick_retries(tmp_path: Path, database: Path, **more: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{database}",
        cds_state_dir=str(tmp_path / "state"),
        cds_record_timeout_s=0.3,
        cds_record_retry_max_s=0.1,
        **more,
    )


@contextmanager
def locked(database: Path) -> Iterator[None]:
    """Another process's write transaction holds the SQLite file: writes wait, then fail."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def uuids(cards: list[dict[str, object]]) -> list[str]:
    return [str(card["uuid"]) for card in cards]


def test_a_locked_database_does_not_hold_up_the_hook(tmp_path: Path) -> None:
    database = tmp_path / "cds.db"
    with TestClient(create_app(quick_retries(tmp_path, database))) as client:
        recorder = recorder_of(client.app)
        failures = metric("cds_card_write_failures_total")
        with locked(database):
            # The hook answers while the database refuses every write.
            shown = uuids(show_cards(client))
            wait_until(lambda: metric("cds_card_write_failures_total") > failures, "a failed write")
            assert recorder.state().journal_cards == len(shown)
            # A store that takes no writes is not ready, though it answers queries.
            wait_until(lambda: recorder.state().failed_writes >= 2, "two failed writes")
            readiness = client.get("/readyz")
            assert readiness.status_code == 503
            diagnostics = [issue["diagnostics"] for issue in readiness.json()["issue"]]
            assert diagnostics[0].startswith("recorder: ")
            assert "database: answers" in diagnostics
        drain_card_records(client)
        assert client.get("/readyz").status_code == 200
    assert recorded_uuids(f"sqlite:///{database}") == sorted(shown)


def test_records_queued_at_shutdown_are_written(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        shown = uuids(show_cards(client)) + uuids(show_cards(client))
    assert recorded_uuids(settings.database_url) == sorted(shown)


def test_storage_down_at_start_up_is_used_once_it_is_back(tmp_path: Path) -> None:
    # SQLite cannot create a file in a directory that does not exist yet: an outage.
    directory = tmp_path / "later"
    settings = quick_retries(tmp_path, directory / "cds.db")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        card = show_cards(client)[0]
        assert send_feedback(client, overridden(card)).status_code == 503

        directory.mkdir()
        drain_card_records(client)
        assert client.get("/readyz").status_code == 200
        # The card shown during the outage waited in the journal: it is on record now, and
        # feedback about it is taken.
        assert send_feedback(client, overridden(card)).status_code == 200
        later = uuids(show_cards(client))
        drain_card_records(client)
    assert recorded_uuids(settings.database_url) == sorted([card["uuid"], *later])


def test_cards_journaled_before_a_restart_are_written_after_it(tmp_path: Path) -> None:
    directory = tmp_path / "later"
    settings = quick_retries(tmp_path, directory / "cds.db")
    with TestClient(create_app(settings)) as client:
        shown = uuids(show_cards(client)) + uuids(show_cards(client))
        wait_until(lambda: recorder_of(client.app).queued_calls == 0, "the journal")
    # Stopped with the database still missing: the journal is left for the next start.
    journals = list((tmp_path / "state" / "journal").glob("cards-*.sqlite"))
    assert len(journals) == 1

    directory.mkdir()
    with TestClient(create_app(settings)) as client:
        drain_card_records(client)
    assert recorded_uuids(settings.database_url) == sorted(shown)
    assert list((tmp_path / "state" / "journal").glob("cards-*.sqlite")) == []


def test_a_full_journal_loses_cards_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "later"
    settings = quick_retries(tmp_path, directory / "cds.db", cds_journal_max_cards=2)
    lost = metric("cds_cards_lost_total", reason="journal_full")
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        recorder = recorder_of(client.app)
        kept = uuids(show_cards(client)) + uuids(show_cards(client))
        assert len(kept) == 2
        for _ in range(3):
            show_cards(client)
        wait_until(lambda: recorder.queued_calls == 0, "the journal")
        assert metric("cds_cards_lost_total", reason="journal_full") == lost + 3
        dropped = [r for r in caplog.records if r.getMessage().startswith("card records dropped")]
        assert len(dropped) == 1
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert "recorder: the card journal is full" in readiness.text

        directory.mkdir()
        wait_until(lambda: recorder.state().journal_cards == 0, "the journal to be written")
        again = uuids(show_cards(client))
        drain_card_records(client)
        assert any("3 cards were lost" in r.getMessage() for r in caplog.records)
    assert recorded_uuids(settings.database_url) == sorted(kept + again)


def test_recorder_logs_name_the_batch_not_a_hook_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "later"
    settings = quick_retries(tmp_path, directory / "cds.db")
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO):
        show_cards(client)
        wait_until(lambda: recorder_of(client.app).state().failed_writes > 0, "a failed write")
        directory.mkdir()
        drain_card_records(client)
    [failed] = [r for r in caplog.records if r.getMessage().startswith("card records not written")]
    [written] = [r for r in caplog.records if r.getMessage().startswith("card records written")]
    for record in (failed, written):
        line = json.loads(JsonFormatter().format(record))
        assert isinstance(line.get("batch"), str) and line["batch"], line
        assert line.get("cards") == 1, line
        # Written by the card writer's thread for a batch of calls, so no call's hookInstance.
        assert "hookInstance" not in line
