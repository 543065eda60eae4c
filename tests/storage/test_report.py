"""The committee's report: figures per rule from real hook calls and feedback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.cli import main
from cds.settings import Settings
from tests.feedback_requests import (
    accepted,
    drain_card_records,
    overridden,
    send_feedback,
    show_cards,
)


def test_the_report_counts_cards_outcomes_and_reasons_per_rule(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        cards = [show_cards(client)[0] for _ in range(4)]
        drain_card_records(client)
        rule = cards[0]["source"]["topic"]["code"]
        reports = [
            accepted(cards[0]),
            accepted(cards[0]),  # a resend: counted once
            overridden(cards[1], "patient-preference"),
            overridden(cards[2], "patient-preference", at="2026-11-24T11:00:00Z"),
            overridden(cards[3], None),
            {
                "card": "never-shown",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-24T12:00:00Z",
            },
        ]
        assert send_feedback(client, *reports).status_code == 200

    main(["report", "--database-url", database_url])
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == ["rule", "shown", "accepted", "overridden"]
    assert lines[2].split() == [rule, "4", "1", "3"]
    assert lines[3].split() == ["2", "patient", "preference", "(patient-preference)"]
    assert lines[4].split() == ["1", "(no", "reason", "given)"]
    assert lines[5].split() == ["(card", "not", "recorded)", "0", "0", "1"]
    assert lines[6].split() == ["1", "(no", "reason", "given)"]
    assert len(lines) == 7


def test_migrate_then_report_on_an_empty_database(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate", "--database-url", database_url])
    main(["report", "--database-url", database_url])
    assert capsys.readouterr().out.splitlines() == [
        "database schema is up to date",
        "No cards or feedback recorded yet.",
    ]


def test_report_on_an_unreachable_database_exits_with_a_message() -> None:
    with pytest.raises(SystemExit, match="database unavailable"):
        main(["report", "--database-url", "postgresql://postgres@127.0.0.1:9/test"])
