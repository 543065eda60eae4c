"""Which migration a database is at, read without changing it."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from cds.storage.database import MIGRATIONS, Database, StorageUnavailable, describe_error


def head_revision() -> str:
    """The newest revision this version of the service ships."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


async def current_revision(database: Database) -> str | None:
    """The revision the database is at; None when it has no schema of ours."""
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(_revision)
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        raise StorageUnavailable(describe_error(error)) from error


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
