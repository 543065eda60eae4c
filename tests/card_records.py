"""Helpers for the tests of card recording: what the database holds, the metrics, waiting for
the card writer (it runs in a thread of its own), and an app served in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select

from cds.app import create_app
from cds.runtime import runtime_of
from cds.settings import Settings
from cds.storage.database import Database
from cds.storage.recorder import CardRecorder
from cds.storage.tables import emitted_cards
from tests.conftest import load_example
from tests.feedback_requests import PATIENT_VIEW


async def recorded_uuids_async(database_url: str) -> list[str]:
    """The uuids of every card on record, sorted; a card recorded twice would show twice."""
    database = Database(database_url, schema_ready=True)
    try:
        async with database.engine.connect() as connection:
            rows = await connection.execute(select(emitted_cards.c.card_uuid))
            return sorted(uuid for (uuid,) in rows)
    finally:
        await database.dispose()


def recorded_uuids(database_url: str) -> list[str]:
    return asyncio.run(recorded_uuids_async(database_url))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll until `condition` holds; a bound on waiting, not a measurement."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s:g} s for {what}"
        time.sleep(0.02)


async def wait_until_async(
    condition: Callable[[], bool], what: str, timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s:g} s for {what}"
        await asyncio.sleep(0.02)


def recorder_of(app: Any) -> CardRecorder:
    recorder = runtime_of(app).recorder
    assert recorder is not None, "storage is open while the app runs"
    return recorder


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan, called over ASGI from this event loop, so that many calls
    can be in flight at once."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cds.test") as client:
            yield app, client


async def show_cards_async(client: httpx.AsyncClient, service: str = PATIENT_VIEW) -> list[str]:
    """One hook call; the uuids of the cards it returned."""
    response = await client.post(f"/cds-services/{service}", json=load_example("patient-view.json"))
    assert response.status_code == 200, response.text
    uuids = [card["uuid"] for card in response.json()["cards"]]
    assert uuids
    return uuids
