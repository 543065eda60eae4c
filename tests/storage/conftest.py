"""Storage tests run against SQLite and a real PostgreSQL server.

PostgreSQL comes from TEST_DATABASE_URL (default: the local trust-auth server). Each test
gets a fresh database of its own, dropped afterwards, so reruns and parallel runs from
other checkouts never see each other's rows. Under CI an unreachable server is a failure,
not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy.engine import URL, make_url

from bench.tcp_proxy import TcpProxy
from cds.storage.database import Database
from cds.storage.store import Store

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> URL:
    url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES))
    try:
        psycopg2.connect(_libpq(url), connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        message = f"PostgreSQL at {url.render_as_string()} unreachable: {error}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url(postgres_server: URL) -> Iterator[str]:
    name = f"plp_cds_test_{uuid.uuid4().hex[:16]}"
    admin = psycopg2.connect(_libpq(postgres_server), connect_timeout=3)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield _libpq(postgres_server.set(database=name))
        with admin.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cds.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on each database."""
    database = Database(database_url)
    await database.migrate()
    yield Store(database)
    await database.dispose()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of this test's PostgreSQL database, to stop, freeze or delay it as
    the service sees it (the server itself is shared and keeps running)."""
    url = make_url(postgres_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def proxied_url(postgres_url: str, proxy: TcpProxy) -> str:
    """This test's database, reached through `proxy`."""
    return _libpq(make_url(postgres_url).set(host=proxy.host, port=proxy.port))
