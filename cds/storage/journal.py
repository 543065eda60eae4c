"""The card journal: card records waiting for the database, kept on local disk.

Every batch of card records is journaled before it is sent to the database and removed once
the database has it, so records survive a database outage and the death of the process
(SIGKILL included): what a worker leaves behind is taken over by the next worker that starts
on the same state directory and database.

One SQLite file per worker process, `CDS_STATE_DIR/journal/cards-<database>-<pid>-<id>.sqlite`,
held with an exclusive `flock` on a `.lock` file beside it while the process lives; a journal
whose lock can be taken belongs to a process that has ended, and is adopted. The database's
key is in the name, so records are only ever replayed into the database they were meant for.

A record is stored whole, as JSON of the `EmittedCard` dataclass (whatever fields it has),
never as a list of columns written out here.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import make_url

from cds.storage.records import EmittedCard
from cds.storage.url import is_sqlite

log = logging.getLogger("cds.storage")

_RECORDS = TypeAdapter(list[EmittedCard])
_FORMAT = 1  # PRAGMA user_version of a journal file
# Records of batches appended by this process are also kept in memory, up to this many
# cards, so the usual path (journal, then database at once) never decodes them again.
_CACHED_CARDS = 50_000


class JournalFull(Exception):
    """The journal holds as many cards as it may; the batch was not taken."""


class JournalUnavailable(Exception):
    """The journal's directory or file cannot be used."""


@dataclass(frozen=True, slots=True)
class JournalBatch:
    seq: int
    batch_id: str
    records: list[EmittedCard] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A batch that could not be decoded (e.g. written by another version); dropped."""

    batch_id: str
    cards: int
    error: str


def database_key(database_url: str) -> str:
    """Which database a journal's records belong to: a digest of its URL without the
    password (a relative SQLite path made absolute, as the process resolves it)."""
    url = make_url(database_url)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).resolve()))
    name = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class CardJournal:
    def __init__(self, path: Path, lock_fd: int, max_cards: int) -> None:
        self.path = path
        self.max_cards = max_cards
        self._lock_fd = lock_fd
        self._db = _connect(path, create=True)
        self._cache: dict[int, list[EmittedCard]] = {}
        self._cached_cards = 0
        row = self._db.execute("SELECT COALESCE(SUM(cards), 0) FROM batches").fetchone()
        self.pending_cards: int = row[0]

    @classmethod
    def open(cls, state_dir: str | Path, database_url: str, max_cards: int) -> CardJournal:
        """A new journal of this process's own, for the database at `database_url`."""
        directory = Path(state_dir) / "journal"
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            stem = f"cards-{database_key(database_url)}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            lock_fd = _lock(directory / f"{stem}.lock", wait=False)
            if lock_fd is None:
                raise JournalUnavailable(f"{directory / stem}.lock is locked by another process")
            return cls(directory / f"{stem}.sqlite", lock_fd, max_cards)
        except (OSError, sqlite3.Error) as error:
            raise JournalUnavailable(f"cannot use {directory}: {error}") from error

    @property
    def directory(self) -> Path:
        return self.path.parent

    def append(self, batch_id: str, records: Sequence[EmittedCard]) -> int:
        """Journal one batch; returns its sequence number. JournalFull when it does not fit."""
        if self.pending_cards + len(records) > self.max_cards:
            raise JournalFull(f"the card journal holds {self.pending_cards} of {self.max_cards}")
        blob = _RECORDS.dump_json(list(records))
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO batches (batch_id, cards, records) VALUES (?, ?, ?)",
                (batch_id, len(records), blob),
            )
        seq = cursor.lastrowid
        assert seq is not None
        self.pending_cards += len(records)
        if self._cached_cards + len(records) <= _CACHED_CARDS:
            self._cache[seq] = list(records)
            self._cached_cards += len(records)
        return seq

    def oldest(self, max_cards: int) -> tuple[list[JournalBatch], list[Unreadable]]:
        """The oldest batches, together up to `max_cards` cards (at least one batch).
        Batches that cannot be decoded are removed and returned apart."""
        batches: list[JournalBatch] = []
        unreadable: list[Unreadable] = []
        total = 0
        query = "SELECT seq, batch_id, cards FROM batches ORDER BY seq LIMIT 1000"
        for seq, batch_id, cards in self._db.execute(query).fetchall():
            if batches and total + cards > max_cards:
                break
            records = self._cache.get(seq)
            if records is None:
                try:
                    records = self._read(seq)
                except ValidationError as error:
                    unreadable.append(Unreadable(batch_id, cards, str(error).splitlines()[0]))
                    self.remove([seq])
                    continue
            batches.append(JournalBatch(seq, batch_id, records))
            total += cards
        return batches, unreadable

    def remove(self, seqs: Iterable[int]) -> None:
        """The database has these batches: forget them."""
        seqs = list(seqs)
        if not seqs:
            return
        placeholders = ",".join("?" * len(seqs))
        with self._db:
            removed = self._db.execute(
                f"SELECT COALESCE(SUM(cards), 0) FROM batches WHERE seq IN ({placeholders})", seqs
            ).fetchone()[0]
            self._db.execute(f"DELETE FROM batches WHERE seq IN ({placeholders})", seqs)
        self.pending_cards -= removed
        for seq in seqs:
            cached = self._cache.pop(seq, None)
            if cached is not None:
                self._cached_cards -= len(cached)

    def adopt_orphans(self) -> int:
        """Take over the batches of journals for the same database whose process has ended;
        returns the number of cards taken. A journal is removed once emptied."""
        adopted = 0
        prefix = self.path.name.rsplit("-", 2)[0]
        for orphan in sorted(self.directory.glob(f"{prefix}-*.sqlite")):
            if orphan == self.path:
                continue
            lock_path = orphan.with_suffix(".lock")
            lock_fd = _lock(lock_path, wait=False)
            if lock_fd is None:
                continue  # its process is alive
            try:
                if orphan.exists():
                    adopted += self._adopt(orphan, lock_path)
            except sqlite3.Error as error:
                log.error(
                    "card journal %s could not be read; left in place",
                    orphan.name,
                    extra={"error": str(error)},
                )
            finally:
                os.close(lock_fd)
        return adopted

    def _adopt(self, orphan: Path, lock_path: Path) -> int:
        source = _connect(orphan, create=False)
        taken = 0
        try:
            rows = source.execute("SELECT seq, batch_id, cards, records FROM batches ORDER BY seq")
            for seq, batch_id, cards, blob in rows.fetchall():
                if self.pending_cards + cards > self.max_cards:
                    break
                # Copied first and deleted after: a crash between the two replays the batch
                # twice, which the database's idempotent insert absorbs.
                with self._db:
                    self._db.execute(
                        "INSERT INTO batches (batch_id, cards, records) VALUES (?, ?, ?)",
                        (batch_id, cards, blob),
                    )
                with source:
                    source.execute("DELETE FROM batches WHERE seq = ?", (seq,))
                self.pending_cards += cards
                taken += cards
            left = source.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        finally:
            source.close()
        if left == 0:
            _delete(orphan)
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
        return taken

    def close(self) -> None:
        """Close; an empty journal is deleted, one still holding records is left for the next
        process to adopt."""
        empty = self.pending_cards == 0
        self._db.close()
        if empty:
            _delete(self.path)
            with contextlib.suppress(FileNotFoundError):
                self.path.with_suffix(".lock").unlink()
        os.close(self._lock_fd)

    def _read(self, seq: int) -> list[EmittedCard]:
        row = self._db.execute("SELECT records FROM batches WHERE seq = ?", (seq,)).fetchone()
        return _RECORDS.validate_json(row[0])


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    mode = "rwc" if create else "rw"
    if create and not path.exists():
        # Created private: card summaries are not patient data, but nobody else needs them.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = sqlite3.connect(
        f"file:{path}?mode={mode}", uri=True, isolation_level=None, check_same_thread=False
    )
    # WAL with synchronous=NORMAL: a committed batch is in the operating system's hands, so
    # it survives the process being killed (not necessarily a power cut), at no fsync per
    # batch.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.isolation_level = "DEFERRED"
    if create:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "batch_id TEXT NOT NULL, cards INTEGER NOT NULL, records BLOB NOT NULL)"
            )
        db.execute(f"PRAGMA user_version = {_FORMAT}")
    return db


def _lock(path: Path, *, wait: bool) -> int | None:
    """An exclusive flock on `path` (created if missing), or None if another process has it.
    The kernel drops the lock when its process ends, however it ends."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _delete(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
