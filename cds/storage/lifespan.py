"""Opens storage when the app starts and closes it when the app stops."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cds.runtime import Runtime
from cds.storage.database import Database, StorageUnavailable
from cds.storage.recorder import CardRecorder
from cds.storage.store import Store

log = logging.getLogger("cds.storage")


@asynccontextmanager
async def open_storage(runtime: Runtime) -> AsyncIterator[None]:
    """Migrate, then serve; on shutdown finish pending writes and close the pool.

    A database that is down at start-up does not stop the service: hooks do not need it,
    and the migration is retried on the first use that does.
    """
    database = Database(runtime.settings.database_url)
    store = Store(database)
    recorder = CardRecorder(store, timeout_s=runtime.settings.cds_record_timeout_s)
    runtime.database, runtime.store, runtime.recorder = database, store, recorder
    try:
        await database.migrate()
    except StorageUnavailable as error:
        log.error("database unavailable at start-up", extra={"error": str(error)})
    try:
        yield
    finally:
        await recorder.drain()
        await database.dispose()
        runtime.database = runtime.store = runtime.recorder = None
