"""Card records never hold up a hook, are finished at shutdown, and a database that was
down at start-up is picked up once it is back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from cds.app import create_app
from cds.runtime import runtime_of
from cds.settings import Settings
from cds.storage.records import EmittedCard
from cds.storage.store import Store
from tests.feedback_requests import drain_card_records, overridden, send_feedback, show_cards


def record_failures() -> float:
    return REGISTRY.get_sample_value("cds_card_record_failures_total") or 0.0


def test_a_hanging_database_does_not_slow_the_hook(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang(self: Store, cards: Sequence[EmittedCard]) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(Store, "record_cards", hang)
    recorder = runtime_of(client.app).recorder
    assert recorder is not None
    recorder.timeout_s = 0.3
    before = record_failures()

    assert show_cards(client)
    # The hook has answered while its record is still waiting on the database.
    assert recorder.pending == 1

    drain_card_records(client)
    assert record_failures() == before + 1


def test_records_in_flight_are_finished_at_shutdown(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Store.record_cards
    recorded: list[str] = []

    async def slow(self: Store, cards: Sequence[EmittedCard]) -> None:
        await asyncio.sleep(0.2)
        await original(self, cards)
        recorded.extend(c.card_uuid for c in cards)

    monkeypatch.setattr(Store, "record_cards", slow)
    with TestClient(create_app(settings)) as client:
        card = show_cards(client)[0]
    assert recorded == [card["uuid"]]


def test_storage_down_at_start_up_is_used_once_it_is_back(tmp_path: Path) -> None:
    # SQLite cannot create a file in a directory that does not exist yet: an outage.
    directory = tmp_path / "later"
    settings = Settings(database_url=f"sqlite:///{directory / 'cds.db'}")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        card = show_cards(client)[0]
        assert send_feedback(client, overridden(card)).status_code == 503

        directory.mkdir()
        assert client.get("/readyz").status_code == 200
        # The card shown during the outage has no record: feedback about it is refused.
        assert send_feedback(client, overridden(card)).status_code == 422
        card = show_cards(client)[0]
        assert send_feedback(client, overridden(card)).status_code == 200
        drain_card_records(client)
