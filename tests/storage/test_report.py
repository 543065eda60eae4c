"""The committee's report: figures per rule from real hook calls and feedback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from cds.app import create_app
from cds.cli import main
from cds.settings import Settings
from cds.storage.database import Database
from tests.feedback_requests import (
    ORDER_SELECT,
    accepted,
    drain_card_records,
    order_select_card,
    overridden,
    send_feedback,
)


def test_the_report_counts_cards_outcomes_and_reasons_per_rule(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        cards = [order_select_card(client) for _ in range(4)]
        drain_card_records(client)
        rule = cards[0]["source"]["topic"]["code"]
        reports = [
            accepted(cards[0]),
            accepted(cards[0]),  # a resend: counted once
            overridden(cards[1], "cardiology-reviewed"),
            overridden(cards[2], "cardiology-reviewed", at="2026-11-24T11:00:00Z"),
            overridden(cards[3], None),
        ]
        assert send_feedback(client, *reports, service=ORDER_SELECT).status_code == 200

    main(["report", "--database-url", database_url])
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == ["rule", "shown", "accepted", "overridden"]
    assert [line.split() for line in lines[2:]] == [
        [rule, "4", "1", "3"],
        # Our words for the reason, whatever display the client sent back.
        [
            "2",
            "Reviewed",
            "with",
            "cardiology;",
            "monitoring",
            "in",
            "place",
            "(cardiology-reviewed)",
        ],
        ["1", "(no", "reason", "given)"],
        # The other card the order-select example shows, four times, never reported on.
        ["tertiary-amine-tca", "4", "0", "0"],
    ]


def test_migrate_says_what_it_did_and_report_reads_an_empty_database(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = make_url(database_url).render_as_string(hide_password=True)
    main(["migrate", "--database-url", database_url])
    main(["migrate", "--database-url", database_url])
    main(["report", "--database-url", database_url])
    assert capsys.readouterr().out.splitlines() == [
        f"created the schema in {shown} (revision 0002)",
        f"{shown} is already at revision 0002; nothing to do",
        "No cards or feedback recorded yet.",
    ]


def test_report_on_a_database_without_the_schema_changes_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if database_url.startswith("sqlite"):
        # An existing, empty SQLite file (a missing one is the next test).
        Path(make_url(database_url).database or "").touch()
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--database-url", database_url])
    assert exit_info.value.code == 1
    assert "holds no tables of this service" in capsys.readouterr().err
    assert asyncio.run(tables(database_url)) == set()


def test_report_creates_no_sqlite_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.db"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--database-url", f"sqlite:///{path}"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == (
        f"plp-cds report: no database file at {path}: the service has recorded nothing there "
        "(check DATABASE_URL or --database-url)\n"
    )
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_report_on_an_unreachable_database_exits_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--database-url", "postgresql://postgres@127.0.0.1:9/test"])
    assert exit_info.value.code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("plp-cds report: database unavailable: ")


async def tables(database_url: str) -> set[str]:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await database.dispose()
