"""With the database down, hooks keep answering; feedback and readiness say 503."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from cds.app import create_app
from cds.settings import Settings
from tests.feedback_requests import drain_card_records, overridden, send_feedback, show_cards


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def outage_client() -> Iterator[TestClient]:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    with TestClient(create_app(Settings(database_url=url))) as client:
        yield client


def record_failures() -> float:
    return REGISTRY.get_sample_value("cds_card_record_failures_total") or 0.0


def test_hooks_answer_while_the_database_is_down(outage_client: TestClient) -> None:
    before = record_failures()
    assert show_cards(outage_client)
    drain_card_records(outage_client)
    assert record_failures() == before + 1


def test_feedback_is_refused_with_503_while_the_database_is_down(
    outage_client: TestClient,
) -> None:
    card = {"uuid": "c-1"}
    response = send_feedback(outage_client, overridden(card))
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"


def test_not_ready_but_alive_while_the_database_is_down(outage_client: TestClient) -> None:
    assert outage_client.get("/readyz").status_code == 503
    assert outage_client.get("/healthz").status_code == 200
