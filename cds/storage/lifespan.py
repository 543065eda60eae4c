"""Opens storage when the app starts and closes it when the app stops."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cds.ops.metrics import forget_ended_workers
from cds.runtime import Runtime
from cds.storage.database import Database, StorageUnavailable
from cds.storage.journal import CardJournal
from cds.storage.recorder import CardRecorder
from cds.storage.store import Store

log = logging.getLogger("cds.storage")


@asynccontextmanager
async def open_storage(runtime: Runtime) -> AsyncIterator[None]:
    """Migrate, then serve; on shutdown finish pending writes and close the pool.

    A database that is down at start-up does not stop the service: hooks do not need it,
    their cards wait in the journal, and the migration is retried on the first use that
    does. A journal that cannot be opened does stop it: the state directory is wrong.
    """
    settings = runtime.settings
    forget_ended_workers()
    journal = CardJournal.open(
        settings.cds_state_dir, settings.database_url, settings.cds_journal_max_cards
    )
    # Statements on request paths give up waiting for a lock before the request's deadline.
    database = Database(settings.database_url, lock_wait_s=0.75 * settings.cds_db_timeout_s)
    store = Store(database)
    try:
        await database.migrate()
    except StorageUnavailable as error:
        log.error("database unavailable at start-up", extra={"error": str(error)})
    recorder = CardRecorder(
        journal,
        settings.database_url,
        timeout_s=settings.cds_record_timeout_s,
        retry_max_s=settings.cds_record_retry_max_s,
        schema_ready=database.migrated,
    )
    recorder.start()
    runtime.database, runtime.store, runtime.recorder = database, store, recorder
    try:
        yield
    finally:
        # Room for one write, a retry, and the journal's local writes.
        await recorder.close(budget_s=2 * settings.cds_record_timeout_s + 1.0)
        await database.dispose()
        runtime.database = runtime.store = runtime.recorder = None
