"""Records the cards a hook returned, off the hook's path.

A hook must answer whether or not the database does, so recording runs as its own task
after the response is built, with a deadline; a failure is logged and counted, never
raised. Tasks still running at shutdown get a short grace period to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from cards.models import Card
from cds.ops.metrics import CARD_RECORD_FAILURES, CARDS
from cds.storage.database import StorageUnavailable
from cds.storage.records import EmittedCard
from cds.storage.store import Store

log = logging.getLogger("cds.storage")
hook_log = logging.getLogger("cds.api.hooks")

RECORD_TIMEOUT_S = 2.0
# Hook calls whose cards wait to be written. Beyond this the database is not keeping up:
# shed (and count) rather than hold ever more memory.
MAX_QUEUED = 10_000
# Hook calls written together in one INSERT: under load one write serves many calls.
MAX_BATCH = 500
UNKNOWN_RULE = "unknown"


def rule_of(card: Card) -> str:
    """The guideline rule behind a card: its source topic code."""
    return card.source.topic.code if card.source.topic else UNKNOWN_RULE


def emitted(
    service_id: str, cards: Sequence[Card], at: datetime, issuer: str | None = None
) -> list[EmittedCard]:
    return [
        EmittedCard(
            card_uuid=card.uuid,
            service_id=service_id,
            rule=rule_of(card),
            indicator=card.indicator.value,
            summary=card.summary,
            emitted_at=at,
            # Feedback is taken only from this issuer, with one of these reasons.
            issuer=issuer,
            override_reasons=tuple(reason.code for reason in card.overrideReasons or ()),
        )
        for card in cards
    ]


class CardRecorder:
    """Queues each hook call's cards and writes them in batches from one background task,
    so the database sees one INSERT per batch rather than one per hook call."""

    def __init__(self, store: Store, timeout_s: float = RECORD_TIMEOUT_S) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self._queue: deque[list[EmittedCard]] = deque()
        self._writing = 0
        self._writer: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Hook calls whose cards are queued or being written."""
        return len(self._queue) + self._writing

    def submit(self, service_id: str, cards: Sequence[Card], issuer: str | None = None) -> None:
        if not cards:
            return
        if len(self._queue) >= MAX_QUEUED:
            CARD_RECORD_FAILURES.inc()
            log.warning("cards not recorded: too many writes pending", extra={"cards": len(cards)})
            return
        self._queue.append(emitted(service_id, cards, datetime.now(UTC), issuer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())

    async def _write_queued(self) -> None:
        while self._queue:
            calls = [self._queue.popleft() for _ in range(min(len(self._queue), MAX_BATCH))]
            self._writing = len(calls)
            try:
                await self._write(calls)
            finally:
                self._writing = 0

    async def _write(self, calls: list[list[EmittedCard]]) -> None:
        batch = [card for call in calls for card in call]
        try:
            await asyncio.wait_for(self.store.record_cards(batch), self.timeout_s)
        except (StorageUnavailable, TimeoutError) as error:
            CARD_RECORD_FAILURES.inc(len(calls))
            log.warning(
                "cards not recorded: database unavailable",
                extra={"cards": len(batch), "error": str(error) or type(error).__name__},
            )
        except Exception:
            CARD_RECORD_FAILURES.inc(len(calls))
            log.exception("cards not recorded", extra={"cards": len(batch)})

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for queued writes (used at shutdown and by tests)."""
        if self._writer is None or self._writer.done():
            return
        # Each write has its own deadline; the margin lets a timed-out one be counted.
        writes = 1 + len(self._queue) // MAX_BATCH
        limit = (self.timeout_s + 1.0) * writes if timeout_s is None else timeout_s
        await asyncio.wait({self._writer}, timeout=limit)


def after_hook(
    recorder: CardRecorder | None,
    service_id: str,
    cards: Sequence[Card],
    issuer: str | None = None,
) -> None:
    """Count the cards and queue their record (with the `issuer` they were sent to); the
    hook answers whatever happens here."""
    for card in cards:
        CARDS.labels(rule=rule_of(card), indicator=card.indicator.value).inc()
    hook_log.info("hook answered", extra={"service": service_id, "cards": len(cards)})
    if recorder is not None:
        recorder.submit(service_id, cards, issuer)
