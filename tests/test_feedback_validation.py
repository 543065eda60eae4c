"""Bad feedback is refused with 422 and an OperationOutcome naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.feedback_requests import (
    ORDER_SELECT,
    PATIENT_VIEW,
    accepted,
    order_select_card,
    overridden,
    send_feedback,
)

CARD = {"uuid": "4b5f3c4e-6a1e-4d0f-9d55-0a4c1c2e1f10", "suggestions": [{"uuid": "s-1"}]}


def without(entry: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != field}


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        (without(accepted(CARD), "card"), "feedback[0].card"),
        ({**accepted(CARD), "card": ""}, "feedback[0].card"),
        ({**accepted(CARD), "outcome": "ignored"}, "feedback[0].outcome"),
        (without(accepted(CARD), "acceptedSuggestions"), "feedback[0].acceptedSuggestions"),
        ({**accepted(CARD), "acceptedSuggestions": []}, "feedback[0].acceptedSuggestions"),
        ({**accepted(CARD), "acceptedSuggestions": [{}]}, "feedback[0].acceptedSuggestions[0].id"),
        (
            {**overridden(CARD), "acceptedSuggestions": [{"id": "s-1"}]},
            "feedback[0].acceptedSuggestions",
        ),
        ({**accepted(CARD), "overrideReason": {}}, "feedback[0].overrideReason"),
        (
            {**overridden(CARD), "overrideReason": {"reason": {"display": "no code"}}},
            "feedback[0].overrideReason.reason.system",
        ),
        (without(accepted(CARD), "outcomeTimestamp"), "feedback[0].outcomeTimestamp"),
        (
            {**accepted(CARD), "outcomeTimestamp": "2026-02-30T10:00:00Z"},
            "feedback[0].outcomeTimestamp",
        ),
        ({**accepted(CARD), "outcomeTimestamp": "2026-11-24"}, "feedback[0].outcomeTimestamp"),
        ({**accepted(CARD), "outcomeTimestamp": 1795500000}, "feedback[0].outcomeTimestamp"),
        (
            {**accepted(CARD), "outcomeTimestamp": "2026-11-24T10:05:31"},
            "feedback[0].outcomeTimestamp",
        ),
        (
            {**accepted(CARD), "outcomeTimestamp": "2026-11-24T11:05:31+01:00"},
            "feedback[0].outcomeTimestamp",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_field(
    client: TestClient, entry: dict[str, Any], field: str
) -> None:
    # A good entry first, so the error must point at the second one.
    response = send_feedback(client, accepted(CARD), entry)
    assert response.status_code == 422
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert field.replace("feedback[0]", "feedback[1]") in body["issue"][0]["expression"]


@pytest.mark.parametrize("body", [{}, {"feedback": []}, {"feedback": {"card": "x"}}])
def test_a_body_without_a_feedback_list_is_refused(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post(f"/cds-services/{PATIENT_VIEW}/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["feedback"]


def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    response = client.post(
        f"/cds-services/{PATIENT_VIEW}/feedback",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_feedback_for_an_unknown_service_is_not_found(client: TestClient) -> None:
    response = send_feedback(client, accepted(CARD), service="no-such-service")
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize(
    "timestamp", ["2026-11-24T10:05:31.250+00:00", "2026-11-24t10:05:31z", "2026-11-24T10:05:31Z"]
)
def test_rfc3339_utc_forms_and_unknown_fields_are_accepted(
    client: TestClient, timestamp: str
) -> None:
    card = order_select_card(client)
    entry = {**overridden(card), "outcomeTimestamp": timestamp, "futureField": 1}
    assert send_feedback(client, entry, service=ORDER_SELECT).status_code == 200
