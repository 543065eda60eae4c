"""Override analytics for the CDS committee: per rule, how often its cards were shown,
accepted and overridden, and the reasons given for overriding them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import make_url

from cards.source import OVERRIDE_REASONS, OVERRIDE_SYSTEM
from cds.storage.database import Database
from cds.storage.records import OverrideReason
from cds.storage.schema import current_revision, head_revision
from cds.storage.store import Store
from cds.storage.url import async_url, is_memory_sqlite, is_sqlite

NO_REASON = "(no reason given)"


@dataclass(frozen=True, slots=True)
class ReasonLine:
    reason: str
    cards: int


@dataclass(frozen=True, slots=True)
class RuleLine:
    rule: str
    shown: int
    accepted: int
    overridden: int
    reasons: tuple[ReasonLine, ...]


async def build_report(store: Store) -> list[RuleLine]:
    shown = await store.cards_shown()
    outcomes = await store.outcome_counts()
    reasons = await store.override_reasons()
    rules = set(shown) | {o.rule for o in outcomes}
    lines = []
    for rule in rules:
        counts = {o.outcome: o.cards for o in outcomes if o.rule == rule}
        rule_reasons = sorted(
            (ReasonLine(_label(r.reason), r.cards) for r in reasons if r.rule == rule),
            key=lambda line: (-line.cards, line.reason),
        )
        lines.append(
            RuleLine(
                rule=rule,
                shown=shown.get(rule, 0),
                accepted=counts.get("accepted", 0),
                overridden=counts.get("overridden", 0),
                reasons=tuple(rule_reasons),
            )
        )
    return sorted(lines, key=lambda line: (-line.shown, line.rule))


def _label(reason: OverrideReason | None) -> str:
    if reason is None or reason.code is None:
        return NO_REASON
    display = reason.display
    if not display and reason.system == OVERRIDE_SYSTEM:
        # Clients may send back only the code of a reason we offered; we know its words.
        display = OVERRIDE_REASONS.get(reason.code)
    return f"{display} ({reason.code})" if display else reason.code


def printable(text: str) -> str:
    """`text` without control or format characters: what the report prints came partly from
    clients, and a terminal would act on an escape sequence (clear the screen, set the
    title, reverse the text with U+202E) rather than show it."""
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))


def render_table(lines: list[RuleLine]) -> str:
    if not lines:
        return "No cards or feedback recorded yet.\n"
    lines = [
        replace(
            line,
            rule=printable(line.rule),
            reasons=tuple(replace(r, reason=printable(r.reason)) for r in line.reasons),
        )
        for line in lines
    ]
    headers = ("rule", "shown", "accepted", "overridden")
    width = max(len(headers[0]), *(len(line.rule) for line in lines))
    out = [
        f"{headers[0]:<{width}}  {headers[1]:>6}  {headers[2]:>8}  {headers[3]:>10}",
        f"{'-' * width}  {'-' * 6}  {'-' * 8}  {'-' * 10}",
    ]
    for line in lines:
        out.append(
            f"{line.rule:<{width}}  {line.shown:>6}  {line.accepted:>8}  {line.overridden:>10}"
        )
        out.extend(f"    {reason.cards:>6}  {reason.reason}" for reason in line.reasons)
    return "\n".join(out) + "\n"


class NothingToReport(Exception):
    """The database holds no records of this service to report on."""


async def report(database_url: str) -> str:
    """The report, read without changing anything: no file created, no migration run."""
    url = async_url(database_url)
    where = make_url(database_url).render_as_string(hide_password=True)
    if is_sqlite(url) and not is_memory_sqlite(url) and not Path(str(url.database)).is_file():
        raise NothingToReport(
            f"no database file at {url.database}: the service has recorded nothing there "
            "(check DATABASE_URL or --database-url)"
        )
    database = Database(database_url, read_only=True)
    try:
        revision = await current_revision(database)
        if revision is None:
            raise NothingToReport(
                f"{where} holds no tables of this service: it has never run against it "
                "(check DATABASE_URL or --database-url)"
            )
        if revision != head_revision():
            raise NothingToReport(
                f"{where} is at schema revision {revision}, this version reads "
                f"{head_revision()}: run plp-cds migrate first"
            )
        return render_table(await build_report(Store(database)))
    finally:
        await database.dispose()
