"""The feedback endpoint end to end, on each database: stored once, and kept over a restart."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from cds.app import create_app
from cds.settings import Settings
from cds.storage.database import Database
from cds.storage.store import Store
from tests.feedback_requests import accepted, overridden, send_feedback, show_cards


def read_back(database_url: str, card_uuid: str) -> list[str]:
    async def read() -> list[str]:
        database = Database(database_url)
        try:
            return [r.outcome for r in await Store(database).feedback_for(card_uuid)]
        finally:
            await database.dispose()

    return asyncio.run(read())


def test_a_report_sent_twice_is_stored_once(database_url: str) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        card = show_cards(client)[0]
        for _ in range(2):
            response = send_feedback(client, accepted(card), overridden(card))
            assert response.status_code == 200, response.text
    assert read_back(database_url, card["uuid"]) == ["accepted", "overridden"]


def test_feedback_survives_a_restart(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings)) as client:
        card = show_cards(client)[0]
        assert send_feedback(client, overridden(card)).status_code == 200
    # The first app is shut down: its engine disposed, its pool closed.
    with TestClient(create_app(settings)) as client:
        assert send_feedback(client, overridden(card)).status_code == 200
        assert client.get("/readyz").status_code == 200
    assert read_back(database_url, card["uuid"]) == ["overridden"]
