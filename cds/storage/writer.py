"""The card writer: a thread of its own that journals queued card records and writes them to
the database.

Why a thread with its own event loop: at saturation the request loop is busy every moment,
and a writer that needs it (a task on it, or a driver thread whose every step hops back to
it) waits its turn behind every request, falls behind, and its batches pass their deadline.
Here the request loop only appends to a queue; the writer takes everything queued at once,
journals it in one local write and sends it to the database in one statement (multi-row on
SQLite, a pipelined executemany on PostgreSQL), so a batch costs it a handful of switches,
however many hook calls it holds.

Two tasks share the thread's loop: the journaler moves the queue to the journal as soon as
anything is queued (so a SIGKILL loses at most what was queued since its last pass), and
the flusher writes the journal's oldest batches to the database, retrying with backoff while
the database fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from cds.ops.metrics import (
    CARD_WRITE_FAILURES,
    CARD_WRITE_SECONDS,
    CARDS_LOST,
    CARDS_RECORDED,
    JOURNAL_CARDS,
)
from cds.storage.database import Database, StorageUnavailable, describe_error
from cds.storage.deadline import unwound, within
from cds.storage.journal import CardJournal, JournalBatch, JournalFull
from cds.storage.records import EmittedCard
from cds.storage.store import Store

log = logging.getLogger("cds.storage.recorder")

# Hook calls journaled together as one batch.
MAX_BATCH = 500
# Cards sent to the database in one write (several batches when replaying a backlog).
MAX_WRITE_CARDS = 5_000
RETRY_FIRST_S = 0.1
# The flusher writes at most this often while the journal holds less than a full write.
FLUSH_EVERY_S = 0.05
# How often the journaler looks at the queue when nobody woke it.
IDLE_POLL_S = 0.5
# How often journals left by ended processes are looked for.
ADOPT_EVERY_S = 30.0


# A trace can link one write to this many of the hook calls whose cards it holds.
MAX_LINKS = 128

# What the queue holds per hook call: its cards, and its trace context when tracing is on.
Queued = tuple[list[EmittedCard], object | None]


class WriteTracer(Protocol):
    """Tracing of card writes (cds.ops.tracing provides it when tracing is on). A write
    serves many hook calls, so its span is linked to theirs rather than a child of one."""

    def capture(self) -> object | None:
        """The current hook call's trace context, taken when its cards are queued."""
        ...

    def instrument(self, engine: AsyncEngine) -> None:
        """Trace the statements of the writer's own engine."""
        ...

    def write(self, links: Sequence[object], cards: int) -> AbstractContextManager[object]:
        """The span of one write, current while it runs."""
        ...


class Status(StrEnum):
    OK = "ok"
    RETRYING = "retrying"  # database writes failing; records wait in the journal
    JOURNAL_FULL = "journal-full"  # new records are being dropped
    STOPPED = "stopped"  # the writer thread is not running


@dataclass(frozen=True, slots=True)
class WriterState:
    status: Status
    journal_cards: int
    failed_writes: int  # consecutive failed database writes
    last_error: str | None
    lost_cards: int


class _Episode:
    """A run of one kind of trouble, logged when it starts and when it ends, not per event."""

    def __init__(self) -> None:
        self.active = False
        self.count = 0

    def begin(self, amount: int = 1) -> bool:
        started = not self.active
        self.active = True
        self.count += amount
        return started

    def end(self) -> int | None:
        if not self.active:
            return None
        count, self.active, self.count = self.count, False, 0
        return count


class CardWriter:
    def __init__(
        self,
        queue: deque[Queued],
        journal: CardJournal,
        database_url: str,
        *,
        timeout_s: float,
        retry_max_s: float,
        schema_ready: bool = False,
    ) -> None:
        self.queue = queue
        self.journal = journal
        self.database_url = database_url
        self.timeout_s = timeout_s
        self.retry_max_s = retry_max_s
        self.schema_ready = schema_ready
        # Hook calls taken off the queue and journaled (or dropped), and those whose records
        # are written (or dropped): compared with the calls submitted, they tell whether
        # anything is still on its way to the journal, or to the database.
        self.settled_calls = 0
        self.done_calls = 0
        self._calls_in: dict[int, int] = {}  # this process's calls in each journaled batch
        self.lost_cards = 0
        self.failed_writes = 0
        self.last_error: str | None = None
        self.idle = False
        self.tracer: WriteTracer | None = None
        self._traced_engine = False
        # Trace contexts of the hook calls in each journaled batch, by sequence number.
        self._links: dict[int, list[object]] = {}
        self._thread = threading.Thread(target=self._run, name="card-writer", daemon=True)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._flush: asyncio.Event | None = None
        self._stopping = False
        self._stop_by = 0.0
        self._journal_done = False
        self._full = _Episode()
        self._outage = _Episode()

    # -- called from the request loop's thread -------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=10)

    def wake(self) -> None:
        """Something was queued: wake the journaler if it is waiting."""
        if self.idle and self._loop is not None and self._wakeup is not None:
            self.idle = False
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._wakeup.set)

    def stop(self, budget_s: float) -> None:
        """Journal what is queued, write what the database takes within `budget_s`, and end
        the thread. Blocking: call it from a worker thread, not the request loop."""
        if self._loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._begin_stop, budget_s)
        self._thread.join(timeout=budget_s + 5.0)
        if self._thread.is_alive():
            log.error("card writer did not stop in time; its journal is kept for the next start")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def state(self) -> WriterState:
        if not self.running:
            status = Status.STOPPED
        elif self._full.active:
            status = Status.JOURNAL_FULL
        elif self.failed_writes:
            status = Status.RETRYING
        else:
            status = Status.OK
        return WriterState(
            status=status,
            journal_cards=self.journal.pending_cards,
            failed_writes=self.failed_writes,
            last_error=self.last_error,
            lost_cards=self.lost_cards,
        )

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
        except Exception:
            log.exception("card writer stopped by an error; records stay in the journal")
        finally:
            loop.close()
            self._started.set()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wakeup, self._flush = asyncio.Event(), asyncio.Event()
        self._loop = loop
        self._started.set()
        database = Database(
            self.database_url,
            schema_ready=self.schema_ready,
            pre_ping=False,
            session_settings=writer_session_settings(self.timeout_s),
            # A write waiting for a lock fails (cleanly) before its deadline abandons it.
            lock_wait_s=self.timeout_s / 2,
        )
        store = Store(database)
        try:
            self._adopt()
            JOURNAL_CARDS.set(self.journal.pending_cards)
            if self.journal.pending_cards:
                log.info(
                    "card journal holds %d cards from before; writing them",
                    self.journal.pending_cards,
                    extra={"cards": self.journal.pending_cards},
                )
                self._flush.set()
            adopting = asyncio.create_task(self._adopt_loop())
            try:
                await asyncio.gather(self._journal_loop(), self._flush_loop(store))
            finally:
                adopting.cancel()
        finally:
            await unwound(2.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(database.dispose(), 2.0)
            left = self.journal.pending_cards
            self.journal.close()
            JOURNAL_CARDS.set(0)
            if left:
                log.warning(
                    "%d cards not yet written are kept in the journal %s; they are written "
                    "after the next start",
                    left,
                    self.journal.path.name,
                    extra={"cards": left},
                )

    def _begin_stop(self, budget_s: float) -> None:
        assert self._loop is not None and self._wakeup is not None and self._flush is not None
        self._stopping = True
        self._stop_by = self._loop.time() + budget_s
        self._wakeup.set()
        self._flush.set()

    async def _journal_loop(self) -> None:
        assert self._wakeup is not None and self._flush is not None
        while True:
            calls = [self.queue.popleft() for _ in range(min(len(self.queue), MAX_BATCH))]
            if calls:
                self._journal(calls)
                self._flush.set()
                # At once again: what is queued and not yet journaled is what a SIGKILL
                # loses. Only the flusher's I/O is let through first.
                await asyncio.sleep(0)
                continue
            if self._stopping:
                self._journal_done = True
                self._flush.set()
                return
            # Idle, then look once more: a call queued between the look and `idle` being
            # set would otherwise wait for the next poll.
            self.idle = True
            if self.queue:
                self.idle = False
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL_S)
            self._wakeup.clear()
            self.idle = False

    def _journal(self, calls: list[Queued]) -> None:
        """Journal the calls, oldest first, as far as the journal has room; drop the rest."""
        batch_id = uuid.uuid4().hex[:12]
        try:
            kept, dropped = self._fitting(calls)
            if kept:
                seq = self.journal.append(batch_id, [card for cards, _ in kept for card in cards])
                self._calls_in[seq] = len(kept)
                links = [context for _, context in kept if context is not None][:MAX_LINKS]
                if links and len(self._links) < MAX_LINKS:
                    self._links[seq] = links
                JOURNAL_CARDS.set(self.journal.pending_cards)
            if dropped:
                why = f"the card journal is full ({self.journal.max_cards} cards)"
                self._lose("journal_full", batch_id, dropped, why)
                self.done_calls += len(dropped)
            elif kept:
                lost = self._full.end()
                if lost is not None:
                    log.warning(
                        "card journal takes records again; %d cards were lost while it could not",
                        lost,
                        extra={"cards": lost, "batch": batch_id},
                    )
        except (JournalFull, sqlite3.Error, OSError) as error:
            self._lose("journal_error", batch_id, calls, describe_error(error))
            self.done_calls += len(calls)
        finally:
            self.settled_calls += len(calls)

    def _fitting(self, calls: list[Queued]) -> tuple[list[Queued], list[Queued]]:
        room = self.journal.max_cards - self.journal.pending_cards
        for taken, (cards, _) in enumerate(calls):
            room -= len(cards)
            if room < 0:
                return calls[:taken], calls[taken:]
        return calls, []

    def _lose(self, reason: str, batch_id: str, calls: list[Queued], why: str) -> None:
        cards = sum(len(call_cards) for call_cards, _ in calls)
        CARDS_LOST.labels(reason=reason).inc(cards)
        self.lost_cards += cards
        if self._full.begin(cards):
            log.error(
                "card records dropped: %s; the cards of new hook calls are not recorded "
                "until the database takes the journal's records (logged once until then)",
                why,
                extra={"batch": batch_id, "cards": cards, "calls": len(calls)},
            )

    async def _flush_loop(self, store: Store) -> None:
        assert self._loop is not None and self._flush is not None
        delay = RETRY_FIRST_S
        while True:
            batches, unreadable = self.journal.oldest(MAX_WRITE_CARDS)
            for dropped in unreadable:
                CARDS_LOST.labels(reason="unreadable").inc(dropped.cards)
                self.lost_cards += dropped.cards
                log.error(
                    "card journal batch could not be read and is dropped: %s",
                    dropped.error,
                    extra={"batch": dropped.batch_id, "cards": dropped.cards},
                )
            if not batches:
                if self._stopping and self._journal_done:
                    return
                await self._flush.wait()
                self._flush.clear()
                continue
            if self._stopping and self._loop.time() >= self._stop_by:
                return
            started = self._loop.time()
            if await self._write(store, batches):
                delay = RETRY_FIRST_S
                if not self._stopping and self.journal.pending_cards < MAX_WRITE_CARDS:
                    await asyncio.sleep(started + FLUSH_EVERY_S - self._loop.time())
                continue
            if self._stopping:
                return
            # Exponential backoff with full jitter, cut short by a stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped(), random.uniform(0, delay))
            delay = min(delay * 2, self.retry_max_s)

    async def _stopped(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.05)

    async def _write(self, store: Store, batches: list[JournalBatch]) -> bool:
        assert self._loop is not None
        records = [card for batch in batches for card in batch.records]
        named = _batch_names(batches)
        timeout = self.timeout_s
        if self._stopping:
            timeout = max(0.1, min(timeout, self._stop_by - self._loop.time()))
        started = self._loop.time()
        try:
            await self._traced(store, batches, records, timeout)
        except StorageUnavailable as error:
            return self._failed(named, len(records), str(error))
        except Exception as error:
            log.exception("card write failed unexpectedly", extra={"batch": named})
            return self._failed(named, len(records), describe_error(error))
        CARD_WRITE_SECONDS.observe(self._loop.time() - started)
        self.journal.remove(batch.seq for batch in batches)
        for batch in batches:
            self._links.pop(batch.seq, None)
            self.done_calls += self._calls_in.pop(batch.seq, 0)
        JOURNAL_CARDS.set(self.journal.pending_cards)
        # Every card of the batches is on record now, whether this write or an earlier one
        # whose acknowledgement was lost put it there: each is counted here, once.
        CARDS_RECORDED.inc(len(records))
        failures = self._outage.end()
        self.failed_writes, self.last_error = 0, None
        if failures is not None:
            log.info(
                "card records written again after %d failed attempts; %d cards left in the journal",
                failures,
                self.journal.pending_cards,
                extra={"batch": named, "cards": len(records)},
            )
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("card records written", extra={"batch": named, "cards": len(records)})
        return True

    async def _traced(
        self, store: Store, batches: list[JournalBatch], records: list[EmittedCard], timeout: float
    ) -> None:
        tracer = self.tracer
        if tracer is None:
            await within(timeout, store.record_cards(records), "card write")
            return
        if not self._traced_engine:
            tracer.instrument(store.database.engine)
            self._traced_engine = True
        links = [link for batch in batches for link in self._links.get(batch.seq, ())]
        with tracer.write(links[:MAX_LINKS], len(records)):
            await within(timeout, store.record_cards(records), "card write")

    def _failed(self, named: str, cards: int, error: str) -> bool:
        CARD_WRITE_FAILURES.inc()
        self.failed_writes += 1
        self.last_error = error
        if self._outage.begin():
            log.warning(
                "card records not written; kept in the journal and retried until the "
                "database takes them",
                extra={"batch": named, "cards": cards, "error": error},
            )
        return False

    def _adopt(self) -> None:
        adopted = self.journal.adopt_orphans()
        if adopted:
            log.info(
                "took over %d cards from the journal of a process that has ended",
                adopted,
                extra={"cards": adopted},
            )
            JOURNAL_CARDS.set(self.journal.pending_cards)
            if self._flush is not None:
                self._flush.set()

    async def _adopt_loop(self) -> None:
        while True:
            await asyncio.sleep(ADOPT_EVERY_S)
            try:
                self._adopt()
            except (OSError, sqlite3.Error) as error:
                log.warning("journals of ended processes not taken over: %s", error)


def writer_session_settings(timeout_s: float) -> dict[str, str]:
    """PostgreSQL settings of the writer's sessions. Its transactions run statement after
    statement: one idle mid-transaction for longer than a write may take has lost its
    client (a worker killed, a network gone), and the server ends it, releasing its locks.
    Otherwise the uncommitted rows of a dead worker's last write would hold up the worker that
    writes them again from its journal (an insert waits for a conflicting uncommitted row)
    until TCP noticed, which can take hours."""
    return {"idle_in_transaction_session_timeout": str(max(1000, int((timeout_s + 1) * 1000)))}


def _batch_names(batches: list[JournalBatch]) -> str:
    """The batches of one write as the log names them: one id, or the first and last."""
    if len(batches) == 1:
        return batches[0].batch_id
    return f"{batches[0].batch_id}..{batches[-1].batch_id} ({len(batches)} batches)"
