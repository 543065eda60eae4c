"""Turn the `DATABASE_URL` people write into the async URL SQLAlchemy needs."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

# Operators write the URL the database documents; the service picks the async driver.
_ASYNC_DRIVERS: dict[str, str] = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


def async_url(database_url: str) -> URL:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"DATABASE_URL must be a sqlite:// or postgresql:// URL, not {backend}://")
    url = url.set(drivername=_ASYNC_DRIVERS[backend])
    if backend != "sqlite" and "sslmode" in url.query:
        # libpq's sslmode (what hosted PostgreSQL documents) is asyncpg's ssl.
        url = url.difference_update_query(["sslmode"]).update_query_dict(
            {"ssl": url.query["sslmode"]}
        )
    return url


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_memory_sqlite(url: URL) -> bool:
    return is_sqlite(url) and url.database in (None, "", ":memory:")
