"""Records the cards a hook returned, off the hook's path.

A hook must answer whether or not the database does, so recording runs as its own task
after the response is built, with a deadline; a failure is logged and counted, never
raised. Tasks still running at shutdown get a short grace period to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import FastAPI

from cards.models import Card
from cds.metrics import CARD_RECORD_FAILURES, CARDS
from cds.storage.database import StorageUnavailable
from cds.storage.records import EmittedCard
from cds.storage.store import Store

log = logging.getLogger("cds.storage")
hook_log = logging.getLogger("cds.hooks")

RECORD_TIMEOUT_S = 2.0
# Beyond this many writes in flight the database is not keeping up; shed rather than
# hold ever more memory and connections.
MAX_PENDING = 200
UNKNOWN_RULE = "unknown"


def rule_of(card: Card) -> str:
    """The guideline rule behind a card: its source topic code."""
    return card.source.topic.code if card.source.topic else UNKNOWN_RULE


def emitted(service_id: str, cards: Sequence[Card], at: datetime) -> list[EmittedCard]:
    return [
        EmittedCard(
            card_uuid=card.uuid,
            service_id=service_id,
            rule=rule_of(card),
            indicator=card.indicator.value,
            summary=card.summary,
            emitted_at=at,
        )
        for card in cards
    ]


class CardRecorder:
    def __init__(self, store: Store, timeout_s: float = RECORD_TIMEOUT_S) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, service_id: str, cards: Sequence[Card]) -> None:
        if not cards:
            return
        if len(self._pending) >= MAX_PENDING:
            CARD_RECORD_FAILURES.inc()
            log.warning("cards not recorded: too many writes pending", extra={"cards": len(cards)})
            return
        batch = emitted(service_id, cards, datetime.now(UTC))
        task = asyncio.create_task(self._record(batch))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(self, batch: list[EmittedCard]) -> None:
        try:
            await asyncio.wait_for(self.store.record_cards(batch), self.timeout_s)
        except (StorageUnavailable, TimeoutError) as error:
            CARD_RECORD_FAILURES.inc()
            log.warning(
                "cards not recorded: database unavailable",
                extra={"cards": len(batch), "error": str(error) or type(error).__name__},
            )
        except Exception:
            CARD_RECORD_FAILURES.inc()
            log.exception("cards not recorded", extra={"cards": len(batch)})

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for writes in flight (used at shutdown and by tests)."""
        if self._pending:
            # Each write has its own deadline; the margin lets a timed-out one be counted.
            limit = self.timeout_s + 1.0 if timeout_s is None else timeout_s
            await asyncio.wait(set(self._pending), timeout=limit)


def after_hook(app: FastAPI, service_id: str, cards: Sequence[Card]) -> None:
    """Count the cards and queue their record; the hook answers whatever happens here."""
    for card in cards:
        CARDS.labels(rule=rule_of(card), indicator=card.indicator.value).inc()
    hook_log.info("hook answered", extra={"service": service_id, "cards": len(cards)})
    recorder: CardRecorder | None = getattr(app.state, "card_recorder", None)
    if recorder is not None:
        recorder.submit(service_id, cards)
