"""Hook calls through the test client, each answer checked: 200 and CDS Hooks conformant."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conformance import assert_conformant
from tests.fhir import SERVICE_IDS, bundle, hook_request, plp


def post(client: TestClient, hook: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The cards of one hook call."""
    response = client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=body)
    assert response.status_code == 200, response.text
    assert_conformant(response.json())
    cards: list[dict[str, Any]] = response.json()["cards"]
    if hook != "patient-view":
        # At order time a draft is being written: no suggestion starts with an update, which
        # a client applying the first action to that draft could turn into the order it stops.
        for card in cards:
            for suggestion in card.get("suggestions", []):
                assert suggestion["actions"][0]["type"] in ("create", "delete"), suggestion
    return cards


def sign(
    client: TestClient,
    drafts: list[dict[str, Any]],
    conditions: tuple[dict[str, Any], ...] = (),
    active: tuple[dict[str, Any], ...] = (),
) -> list[dict[str, Any]]:
    """order-sign for a patient with phantom limb pain, `conditions` and `active` orders."""
    body = hook_request(
        "order-sign",
        conditions=bundle(plp(), *conditions),
        medications=bundle(*active),
        draftOrders=bundle(*drafts, type="collection"),
    )
    return post(client, "order-sign", body)
