"""The store on each database: migrations, card records, idempotent feedback."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import inspect

from cds.storage.database import Database
from cds.storage.records import EmittedCard, FeedbackRecord, OverrideReason
from cds.storage.store import UNRECORDED_RULE, Store

AT = datetime(2026, 11, 24, 10, 5, 31, tzinfo=UTC)
REASON = OverrideReason("urn:plp-cds:override-reason", "dose-intended", "Dose reviewed")


def card(card_uuid: str, rule: str = "tca-dose") -> EmittedCard:
    return EmittedCard(card_uuid, "svc", rule, "warning", "TCA dose above 100 mg/day", AT)


async def test_migrations_create_the_schema_once(database_url: str) -> None:
    for _ in range(2):
        database = Database(database_url)
        await database.migrate()
        await database.migrate()
        async with database.begin() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        await database.dispose()
        assert {"emitted_cards", "feedback", "alembic_version"} <= tables


async def test_a_card_recorded_twice_is_kept_once(store: Store) -> None:
    await store.record_cards([card("c1"), card("c2", "opioid")])
    await store.record_cards([card("c1")])
    assert await store.cards_shown() == {"tca-dose": 1, "opioid": 1}


async def test_the_same_report_twice_is_stored_once(store: Store) -> None:
    report = FeedbackRecord("c1", "svc", "overridden", AT, reason=REASON, user_comment="ok")
    assert await store.save_feedback([report, report]) == [report]
    assert await store.save_feedback([report]) == []
    assert await store.feedback_for("c1") == [report]


async def test_the_same_instant_with_another_offset_is_a_repeat(store: Store) -> None:
    report = FeedbackRecord("c1", "svc", "accepted", AT, accepted_suggestions=("s1", "s2"))
    shifted = FeedbackRecord(
        "c1",
        "svc",
        "accepted",
        AT.astimezone(timezone(timedelta(hours=2))),
        accepted_suggestions=("s2", "s1"),
    )
    await store.save_feedback([report])
    assert await store.save_feedback([shifted]) == []


async def test_different_reports_on_one_card_are_all_kept(store: Store) -> None:
    first = FeedbackRecord("c1", "svc", "accepted", AT, accepted_suggestions=("s1",))
    other_suggestion = FeedbackRecord("c1", "svc", "accepted", AT, accepted_suggestions=("s2",))
    later = FeedbackRecord("c1", "svc", "overridden", AT + timedelta(minutes=1))
    assert len(await store.save_feedback([first, other_suggestion, later])) == 3
    assert await store.feedback_for("c1") == [first, other_suggestion, later]


async def test_counts_tie_feedback_to_the_rule_that_fired(store: Store) -> None:
    await store.record_cards([card("c1"), card("c2"), card("c3", "opioid")])
    await store.save_feedback(
        [
            FeedbackRecord("c1", "svc", "overridden", AT, reason=REASON),
            FeedbackRecord("c1", "svc", "overridden", AT + timedelta(seconds=1), reason=REASON),
            FeedbackRecord("c2", "svc", "overridden", AT),
            FeedbackRecord("c3", "svc", "accepted", AT, accepted_suggestions=("s",)),
            FeedbackRecord("stranger", "svc", "accepted", AT, accepted_suggestions=("s",)),
        ]
    )
    outcomes = {(o.rule, o.outcome): o.cards for o in await store.outcome_counts()}
    assert outcomes == {
        ("tca-dose", "overridden"): 2,
        ("opioid", "accepted"): 1,
        (UNRECORDED_RULE, "accepted"): 1,
    }
    reasons = {(r.rule, r.reason): r.cards for r in await store.override_reasons()}
    assert reasons == {("tca-dose", REASON): 1, ("tca-dose", None): 1}


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default: new files readable by everyone
    try:
        path = tmp_path / "cds.db"
        database = Database(f"sqlite:///{path}")
        asyncio.run(database.migrate())
        asyncio.run(database.dispose())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

        shared = tmp_path / "shared.db"
        shared.touch(mode=0o644)
        Database(f"sqlite:///{shared}")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
