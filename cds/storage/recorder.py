"""Records the cards a hook returned, off the hook's path.

A hook must answer whether or not the database does, so its cards are only queued here; the
card writer (`cds.storage.writer`, a thread of its own) journals them on local disk and
writes them to the database, retrying while the database fails. A record is lost only when
the journal is full or cannot be written, and then it is counted, in cards.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from cards.models import Card
from cds.ops.metrics import CARDS_LOST
from cds.storage.journal import CardJournal
from cds.storage.records import EmittedCard
from cds.storage.writer import CardWriter, Queued, WriterState, WriteTracer

log = logging.getLogger("cds.storage.recorder")

RECORD_TIMEOUT_S = 2.0
# Hook calls whose cards wait for the writer. The writer empties the queue as fast as it can
# write locally; a queue this long means it is stuck, and further cards are dropped (and
# counted) rather than held in ever more memory.
MAX_QUEUED = 10_000
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
    """Queues each hook call's cards for the card writer."""

    def __init__(
        self,
        journal: CardJournal,
        database_url: str,
        *,
        timeout_s: float = RECORD_TIMEOUT_S,
        retry_max_s: float = 5.0,
        schema_ready: bool = False,
    ) -> None:
        self._queue: deque[Queued] = deque()
        self._tracer: WriteTracer | None = None
        self.submitted_calls = 0
        self._shedding = False
        self.writer = CardWriter(
            self._queue,
            journal,
            database_url,
            timeout_s=timeout_s,
            retry_max_s=retry_max_s,
            schema_ready=schema_ready,
        )

    def start(self) -> None:
        self.writer.start()

    def trace_with(self, tracer: WriteTracer) -> None:
        self._tracer = self.writer.tracer = tracer

    def submit(self, service_id: str, cards: Sequence[Card], issuer: str | None = None) -> None:
        if not cards:
            return
        if len(self._queue) >= MAX_QUEUED:
            CARDS_LOST.labels(reason="queue_full").inc(len(cards))
            if not self._shedding:
                self._shedding = True
                log.error(
                    "card records dropped: the card writer is not taking them "
                    "(logged once until it does)",
                    extra={"cards": len(cards)},
                )
            return
        self._shedding = False
        # Counted before it is queued, so the writer never settles more calls than this.
        self.submitted_calls += 1
        context = self._tracer.capture() if self._tracer is not None else None
        self._queue.append((emitted(service_id, cards, datetime.now(UTC), issuer), context))
        self.writer.wake()

    @property
    def pending(self) -> int:
        """Hook calls of this process whose cards are not yet written (or dropped)."""
        return self.submitted_calls - self.writer.done_calls

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until the cards of every hook call submitted so far are written (or
        dropped); False if that did not happen within `timeout_s`. Later calls are not
        waited for, so this ends under load too."""
        target = self.submitted_calls
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.writer.done_calls < target:
            if loop.time() >= deadline or not self.writer.running:
                return False
            await asyncio.sleep(0.005)
        return True

    @property
    def queued_calls(self) -> int:
        """Hook calls whose cards have not reached the journal yet."""
        return self.submitted_calls - self.writer.settled_calls

    def state(self) -> WriterState:
        return self.writer.state()

    def drained(self) -> bool:
        """Every card submitted is journaled (or dropped) and written."""
        return self.queued_calls == 0 and self.writer.journal.pending_cards == 0

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every card submitted has been written; False if that did not happen
        within `timeout_s` (the database is down, say). For tests and tools."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.drained():
            if loop.time() >= deadline or not self.writer.running:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self, budget_s: float) -> None:
        """Journal the queue and write what the database takes within `budget_s`; what it
        does not take stays in the journal for the next start."""
        await asyncio.to_thread(self.writer.stop, budget_s)
