"""Reads and writes: cards shown, feedback received, and the counts the report needs."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Table, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from cds.storage.database import Database, StorageConflict
from cds.storage.records import (
    CardOnRecord,
    EmittedCard,
    FeedbackRecord,
    OutcomeCount,
    OverrideReason,
    ReasonCount,
)
from cds.storage.tables import emitted_cards, feedback

# Feedback about a card this service has no record of (sent before recording began, or
# a record lost to an outage) is still counted, under this rule.
UNRECORDED_RULE = "(card not recorded)"

_feedback_with_rule = feedback.outerjoin(
    emitted_cards, feedback.c.card_uuid == emitted_cards.c.card_uuid
)

log = logging.getLogger("cds.storage")

# Bound parameters one SQLite statement may carry: 999 before 3.32, 32766 since.
_SQLITE_PARAMETERS = 999 if sqlite3.sqlite_version_info < (3, 32) else 30_000


class Store:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record_cards(self, cards: Sequence[EmittedCard]) -> None:
        """Write the cards; a card already on record is kept once, so a batch written again
        after a lost acknowledgement adds nothing."""
        if not cards:
            return
        rows = [
            {
                "card_uuid": c.card_uuid,
                "service_id": c.service_id,
                "rule": c.rule,
                "indicator": c.indicator,
                "summary": c.summary,
                "emitted_at": c.emitted_at,
                "issuer": c.issuer,
                "override_reasons": " ".join(c.override_reasons),
            }
            for c in cards
        ]
        async with self.database.begin() as connection:
            await self._insert_rows(connection, emitted_cards, rows)

    async def _insert_rows(
        self, connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Many rows at once, ignoring repeats, at the least cost to each database.

        PostgreSQL: one executemany, which asyncpg pipelines under one prepared statement.
        SQLite: many rows per statement rather than one, since its driver lets go of the GIL
        around every statement it steps, and a writer thread that must win the GIL back from
        a busy event loop once per row falls behind. With RETURNING, SQLAlchemy's
        "insertmanyvalues" renders pages of rows from one cached statement; a SQLite too old
        for RETURNING gets multi-row VALUES compiled per chunk."""
        insert = self._insert_ignoring_repeats(table)
        if self.database.dialect != "sqlite":
            await connection.execute(insert, list(rows))
            return
        if connection.dialect.insert_executemany_returning:
            keys = list(table.primary_key.columns)
            (await connection.execute(insert.returning(*keys), list(rows))).all()
            return
        per_statement = max(1, _SQLITE_PARAMETERS // max(1, len(rows[0])))
        for start in range(0, len(rows), per_statement):
            await connection.execute(insert.values(list(rows[start : start + per_statement])))

    async def save_feedback(self, records: Iterable[FeedbackRecord]) -> list[FeedbackRecord]:
        """Store each report once; returns the ones not stored before.

        Reports are written in one fixed order, so two requests holding the same reports in
        different orders wait for each other instead of deadlocking. A deadlock with other
        work is retried once; one that persists is a StorageConflict."""
        ordered = sorted(records, key=_report_key)
        try:
            return await self._save_feedback(ordered)
        except StorageConflict as conflict:
            log.warning(
                "feedback write lost a deadlock; trying once more", extra={"error": str(conflict)}
            )
            return await self._save_feedback(ordered)

    async def _save_feedback(self, records: Sequence[FeedbackRecord]) -> list[FeedbackRecord]:
        received_at = datetime.now(UTC)
        stored: list[FeedbackRecord] = []
        async with self.database.begin() as connection:
            for record in records:
                reason = record.reason or OverrideReason(None, None, None)
                result = await connection.execute(
                    self._insert_ignoring_repeats(feedback).values(
                        card_uuid=record.card_uuid,
                        service_id=record.service_id,
                        outcome=record.outcome,
                        outcome_timestamp=record.outcome_timestamp,
                        accepted_suggestions=" ".join(sorted(set(record.accepted_suggestions))),
                        reason_system=reason.system,
                        reason_code=reason.code,
                        reason_display=reason.display,
                        user_comment=record.user_comment,
                        received_at=received_at,
                    )
                )
                if result.rowcount > 0:
                    stored.append(record)
        return stored

    async def cards_on_record(self, card_uuids: Iterable[str]) -> dict[str, CardOnRecord]:
        """Who each of these cards was issued by and to, for the ones on record."""
        c = emitted_cards.c
        query = select(c.card_uuid, c.service_id, c.issuer, c.override_reasons).where(
            c.card_uuid.in_(set(card_uuids))
        )
        async with self.database.begin() as connection:
            rows = (await connection.execute(query)).all()
        return {
            card_uuid: CardOnRecord(
                service_id=service_id,
                issuer=issuer,
                override_reasons=None if reasons is None else frozenset(reasons.split()),
            )
            for card_uuid, service_id, issuer, reasons in rows
        }

    async def reports_per_card(self, card_uuids: Iterable[str]) -> dict[str, int]:
        """How many feedback reports are stored about each of these cards."""
        query = (
            select(feedback.c.card_uuid, func.count())
            .where(feedback.c.card_uuid.in_(set(card_uuids)))
            .group_by(feedback.c.card_uuid)
        )
        async with self.database.begin() as connection:
            rows = (await connection.execute(query)).all()
        return {card_uuid: count for card_uuid, count in rows}

    async def feedback_for(self, card_uuid: str) -> list[FeedbackRecord]:
        query = select(feedback).where(feedback.c.card_uuid == card_uuid).order_by(feedback.c.id)
        async with self.database.begin() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            FeedbackRecord(
                card_uuid=row["card_uuid"],
                service_id=row["service_id"],
                outcome=row["outcome"],
                outcome_timestamp=row["outcome_timestamp"],
                accepted_suggestions=tuple(row["accepted_suggestions"].split()),
                reason=_reason(row["reason_system"], row["reason_code"], row["reason_display"]),
                user_comment=row["user_comment"],
            )
            for row in rows
        ]

    async def cards_shown(self) -> dict[str, int]:
        query = select(emitted_cards.c.rule, func.count()).group_by(emitted_cards.c.rule)
        async with self.database.begin() as connection:
            return {rule: count for rule, count in (await connection.execute(query)).all()}

    async def outcome_counts(self) -> list[OutcomeCount]:
        """Distinct cards per rule and outcome: a card reported twice counts once."""
        rule = func.coalesce(emitted_cards.c.rule, literal(UNRECORDED_RULE)).label("rule")
        query = (
            select(rule, feedback.c.outcome, func.count(feedback.c.card_uuid.distinct()))
            .select_from(_feedback_with_rule)
            .group_by(rule, feedback.c.outcome)
        )
        async with self.database.begin() as connection:
            rows = (await connection.execute(query)).all()
        return [OutcomeCount(rule=r, outcome=o, cards=n) for r, o, n in rows]

    async def override_reasons(self) -> list[ReasonCount]:
        rule = func.coalesce(emitted_cards.c.rule, literal(UNRECORDED_RULE)).label("rule")
        query = (
            select(
                rule,
                feedback.c.reason_system,
                feedback.c.reason_code,
                func.max(feedback.c.reason_display),
                func.count(feedback.c.card_uuid.distinct()),
            )
            .select_from(_feedback_with_rule)
            .where(feedback.c.outcome == "overridden")
            .group_by(rule, feedback.c.reason_system, feedback.c.reason_code)
        )
        async with self.database.begin() as connection:
            rows = (await connection.execute(query)).all()
        return [
            ReasonCount(rule=r, reason=_reason(system, code, display), cards=n)
            for r, system, code, display, n in rows
        ]

    def _insert_ignoring_repeats(self, table: Table) -> Insert:
        if self.database.dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return postgresql.insert(table).on_conflict_do_nothing()


def _report_key(record: FeedbackRecord) -> tuple[str, str, datetime, tuple[str, ...]]:
    # The unique key of the feedback table, so locks on it are always taken in one order.
    return (
        record.card_uuid,
        record.outcome,
        record.outcome_timestamp.astimezone(UTC),
        tuple(sorted(set(record.accepted_suggestions))),
    )


def _reason(system: str | None, code: str | None, display: str | None) -> OverrideReason | None:
    if system is None and code is None and display is None:
        return None
    return OverrideReason(system=system, code=code, display=display)
