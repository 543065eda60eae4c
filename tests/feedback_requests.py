"""Builders for hook calls and feedback reports shared by the feedback tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from cds.runtime import runtime_of
from tests.conftest import load_example

PATIENT_VIEW = "phantom-limb-pain-patient-view"
ORDER_SELECT = "phantom-limb-pain-order-select"
OVERRIDE_SYSTEM = "urn:plp-cds:override-reason"


def show_cards(
    client: TestClient, service: str = PATIENT_VIEW, example: str = "patient-view.json"
) -> list[dict[str, Any]]:
    response = client.post(f"/cds-services/{service}", json=load_example(example))
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    assert cards
    return cards


def accepted(card: dict[str, Any], at: str = "2026-11-24T10:05:31Z") -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": at,
    }


def order_select_card(client: TestClient) -> dict[str, Any]:
    """The order-select example's TCA-and-heart card: it offers override reasons and
    one-click suggestions."""
    cards = show_cards(client, ORDER_SELECT, "order-select.json")
    [card] = [c for c in cards if c["source"]["topic"]["code"] == "tca-heart"]
    assert card["overrideReasons"] and card["suggestions"]
    return card


# The first override reason the card offered, or none when it offered none.
OFFERED = "(offered)"


def overridden(
    card: dict[str, Any], code: str | None = OFFERED, at: str = "2026-11-24T10:06:00Z"
) -> dict[str, Any]:
    entry: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": at}
    if code == OFFERED:
        code = card["overrideReasons"][0]["code"] if card.get("overrideReasons") else None
    if code is not None:
        entry["overrideReason"] = {
            "reason": {"system": OVERRIDE_SYSTEM, "code": code, "display": code.replace("-", " ")},
            "userComment": "discussed with the patient",
        }
    return entry


def drain_card_records(client: TestClient) -> None:
    """Wait for the card records the hook calls queued (they run after the response)."""
    assert client.portal is not None, "use the client inside `with`"
    recorder = runtime_of(client.app).recorder
    assert recorder is not None, "storage is open while the app runs"
    assert client.portal.call(recorder.drain), f"card records not written: {recorder.state()}"


def send_feedback(
    client: TestClient, *entries: dict[str, Any], service: str = PATIENT_VIEW
) -> httpx.Response:
    return client.post(f"/cds-services/{service}/feedback", json={"feedback": list(entries)})
