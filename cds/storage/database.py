"""The async engine, migrations, and the one error every storage failure becomes."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from cds.storage.url import async_url, is_memory_sqlite, is_sqlite

log = logging.getLogger("cds.storage")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any number that is ours alone: replicas starting together migrate one at a time.
_MIGRATION_LOCK = 7_265_113
# Alembic keeps its migration context in module globals: one migration at a time per
# process (the card writer's thread has an engine of its own). A database migrated by one
# engine is not migrated again by another.
_MIGRATION_THREAD_LOCK = threading.Lock()
_MIGRATED: set[str] = set()

# An unreachable database must fail fast: hooks and feedback wait on nothing longer.
CONNECT_TIMEOUT_S = 3.0


class StorageUnavailable(Exception):
    """The database could not be reached or refused the work."""


class StorageConflict(StorageUnavailable):
    """The transaction lost a deadlock or a serialization conflict with another one: the
    database is up, and the same work may succeed when tried again."""


# SQLSTATEs of a transaction the server aborted to let a concurrent one finish.
_CONFLICT_STATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


class Database:
    """One engine per process, migrated once before first use."""

    def __init__(
        self,
        database_url: str,
        *,
        read_only: bool = False,
        schema_ready: bool = False,
        pre_ping: bool = True,
        session_settings: Mapping[str, str] | None = None,
        lock_wait_s: float | None = None,
    ) -> None:
        """`lock_wait_s`: how long a statement waits for a lock before it fails (SQLite's
        busy timeout, PostgreSQL's lock_timeout). Set it below any deadline put on the work:
        a statement that fails releases what it holds, while one abandoned at a deadline
        can leave its transaction holding a lock."""
        url = async_url(database_url)
        self._key = url.render_as_string(hide_password=False)
        if read_only:
            url = _read_only(url)
        # A pre-ping costs a round trip per checkout; an engine whose failed work is retried
        # anyway (the card writer's) does without it.
        options: dict[str, Any] = {"pool_pre_ping": pre_ping}
        if is_memory_sqlite(url):
            # Every new connection to :memory: is a new, empty database; share one.
            options |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        elif is_sqlite(url):
            busy_timeout = CONNECT_TIMEOUT_S if lock_wait_s is None else lock_wait_s
            options["connect_args"] = {"timeout": busy_timeout}
            if not read_only:
                make_private(str(url.database))
        else:
            server_settings = dict(session_settings or {})
            if lock_wait_s is not None:
                server_settings["lock_timeout"] = str(max(1, int(lock_wait_s * 1000)))
            options["connect_args"] = {
                "timeout": CONNECT_TIMEOUT_S,
                # PostgreSQL session settings (ignored on SQLite).
                "server_settings": server_settings,
            }
            options["pool_timeout"] = CONNECT_TIMEOUT_S
        if read_only and not is_sqlite(url):
            options["connect_args"]["server_settings"]["default_transaction_read_only"] = "on"
        self.engine: AsyncEngine = create_async_engine(url, **options)
        # A read-only connection (the report's) never migrates: it reads what is there; nor
        # does a second engine of a process whose first one has migrated the schema.
        self._migrated = read_only or schema_ready
        self._migrating = asyncio.Lock()

    @property
    def migrated(self) -> bool:
        return self._migrated

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op once done in this process."""
        if self._migrated or self._key in _MIGRATED:
            self._migrated = True
            return
        async with self._migrating:
            if self._migrated or self._key in _MIGRATED:
                self._migrated = True
                return
            try:
                async with self.engine.begin() as connection:
                    await connection.run_sync(_upgrade_alone)
            except (SQLAlchemyError, OSError, TimeoutError) as error:
                raise StorageUnavailable(f"migration failed: {describe_error(error)}") from error
            self._migrated = True
            _MIGRATED.add(self._key)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a migrated database; failures become StorageUnavailable."""
        await self.migrate()
        try:
            async with self.engine.begin() as connection:
                yield connection
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            if _sqlstate(error) in _CONFLICT_STATES:
                raise StorageConflict(describe_error(error)) from error
            raise StorageUnavailable(describe_error(error)) from error

    async def ping(self) -> None:
        async with self.begin() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def make_private(path: str) -> None:
    """The SQLite file readable by this user only (0600), created so before SQLite opens it;
    SQLite gives its journal and WAL files the same mode. A file this user owns that others
    can read is tightened. A directory that does not exist yet is left to the outage path."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        status = os.stat(path)
        if status.st_uid == os.getuid() and status.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(status.st_mode) & 0o700)
            log.warning("database file %s was readable by others: now 0600", path)
        return
    except OSError:
        return
    os.close(descriptor)


def _read_only(url: URL) -> URL:
    """SQLite opened so that it refuses writes and never creates a missing file."""
    if not is_sqlite(url) or is_memory_sqlite(url):
        return url
    return url.set(database=f"file:{url.database}").update_query_dict({"mode": "ro", "uri": "true"})


def _upgrade_alone(connection: Connection) -> None:
    with _MIGRATION_THREAD_LOCK:
        _upgrade(connection)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction commits, so a second replica waits, then finds
        # the schema current; waits as long as the first one migrates, whatever the
        # session's lock_timeout.
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlstate(error: BaseException) -> str | None:
    # SQLAlchemy wraps the driver's error; asyncpg's carries the server's SQLSTATE.
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def describe_error(error: BaseException) -> str:
    # The driver's message can quote SQL parameters; the class name and first line suffice.
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line[:200]}"
