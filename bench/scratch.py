"""What the reliability benchmarks share: a scratch database of their own (always dropped),
the cards it holds, and the service's metrics."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cds.storage.database import Database
from cds.storage.tables import emitted_cards

# The server that `.ci/postgres` provides to the tests; any database on it will do to
# create and drop the scratch database from.
DEFAULT_POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextmanager
def scratch_database(kind: str, directory: Path, postgres_url: str) -> Iterator[str]:
    """A new, empty database: a SQLite file in `directory`, or a database created on the
    PostgreSQL server of `postgres_url` and dropped at the end, whatever happens."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    name = f"plp_cds_bench_{uuid.uuid4().hex[:12]}"
    admin = make_url(postgres_url)
    asyncio.run(_admin(admin.render_as_string(hide_password=False), f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(
            _admin(
                admin.render_as_string(hide_password=False),
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            )
        )


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def recorded_uuids(database_url: str) -> list[str]:
    """Every card uuid on record (a card recorded twice would be listed twice)."""

    async def read() -> list[str]:
        database = Database(database_url, schema_ready=True)
        try:
            async with database.engine.connect() as connection:
                rows = await connection.execute(select(emitted_cards.c.card_uuid))
                return [card_uuid for (card_uuid,) in rows]
        finally:
            await database.dispose()

    return asyncio.run(read())


def scrape(base: str) -> Samples:
    text = httpx.get(f"{base}/metrics", timeout=30).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def histogram_quantile(samples: Samples, name: str, q: float) -> float | None:
    """The upper bound of the bucket holding the q-quantile (seconds), from cumulative
    buckets; None without observations."""
    buckets = sorted(
        (float(dict(ls)["le"]), v) for (n, ls), v in samples.items() if n == f"{name}_bucket"
    )
    count = samples.get((f"{name}_count", frozenset()), 0.0)
    if not count:
        return None
    for bound, cumulative in buckets:
        if cumulative >= q * count:
            return bound
    return None
