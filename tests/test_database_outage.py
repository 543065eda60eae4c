"""With the database down, hooks keep answering and their cards wait in the journal;
feedback and readiness say 503, naming the database."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.settings import Settings
from tests.card_records import metric, recorder_of, wait_until
from tests.feedback_requests import overridden, send_feedback, show_cards


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def outage_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/test",
        cds_state_dir=str(tmp_path / "state"),
        cds_record_retry_max_s=0.1,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_hooks_answer_while_the_database_is_down_and_their_cards_wait(
    outage_client: TestClient,
) -> None:
    failures = metric("cds_card_write_failures_total")
    lost = sum(metric("cds_cards_lost_total", reason=r) for r in ("journal_full", "queue_full"))
    shown = show_cards(outage_client) + show_cards(outage_client)
    recorder = recorder_of(outage_client.app)
    wait_until(lambda: recorder.state().failed_writes >= 2, "failed writes")
    assert metric("cds_card_write_failures_total") >= failures + 2
    # Failed writes lose nothing: the cards are in the journal, to be written later.
    assert recorder.state().journal_cards == len(shown)
    assert (
        sum(metric("cds_cards_lost_total", reason=r) for r in ("journal_full", "queue_full"))
        == lost
    )


def test_feedback_is_refused_with_503_while_the_database_is_down(
    outage_client: TestClient,
) -> None:
    card = {"uuid": "c-1"}
    response = send_feedback(outage_client, overridden(card))
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"


def test_not_ready_but_alive_while_the_database_is_down(outage_client: TestClient) -> None:
    response = outage_client.get("/readyz")
    assert response.status_code == 503
    [database] = [i for i in response.json()["issue"] if i["diagnostics"].startswith("database")]
    assert database["severity"] == "error"
    assert database["diagnostics"].startswith("database: unreachable: ")
    assert outage_client.get("/healthz").status_code == 200
