from __future__ import annotations

import pytest

from cds.storage.url import async_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./plp-cds.db", "sqlite+aiosqlite:///./plp-cds.db"),
        ("sqlite:////var/lib/plp/cds.db", "sqlite+aiosqlite:////var/lib/plp/cds.db"),
        ("postgresql://cds@db/cds", "postgresql+asyncpg://cds@db/cds"),
        ("postgres://cds:pw@db:5433/cds", "postgresql+asyncpg://cds:pw@db:5433/cds"),
        ("postgresql+psycopg2://cds@db/cds", "postgresql+asyncpg://cds@db/cds"),
        ("postgresql+asyncpg://cds@db/cds", "postgresql+asyncpg://cds@db/cds"),
        ("postgresql://cds@db/cds?sslmode=require", "postgresql+asyncpg://cds@db/cds?ssl=require"),
    ],
)
def test_the_async_driver_is_chosen_for_the_url(given: str, expected: str) -> None:
    assert async_url(given).render_as_string(hide_password=False) == expected


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:// or postgresql://"):
        async_url("mysql://cds@db/cds")
