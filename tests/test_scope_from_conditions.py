"""Whether the guideline applies is read from the Conditions alone: when they came whole and
name no phantom limb pain, other data that cannot be had is no reason for a 412 (or for the
card saying the checks were not done). The answer is no cards, whatever that data holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.settings import Settings
from tests.fhir import SERVICE_IDS, SNOMED, bundle, condition, first_page, hook_request, med, plp

HEART_FAILURE = condition("84114007", SNOMED, id="hf")
NORTRIPTYLINE = "317136"


@pytest.fixture(params=["412", "card"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", cds_unavailable_data_answer=request.param
    )
    with TestClient(create_app(settings)) as served:
        yield served


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)


def assert_checks_not_done(client: TestClient, response: Any, expression: str) -> None:
    """A 412 naming the key, or (CDS_UNAVAILABLE_DATA_ANSWER=card) the card saying so."""
    if client.app.state.runtime.settings.cds_unavailable_data_answer == "412":  # type: ignore[attr-defined]
        assert response.status_code == 412, response.text
        assert response.json()["issue"][0]["expression"] == [expression]
    else:
        assert response.status_code == 200, response.text
        [card] = response.json()["cards"]
        assert card["source"]["topic"]["code"] == "checks-not-done"


def test_no_phantom_limb_pain_in_whole_conditions_is_no_cards_despite_paged_orders(
    client: TestClient,
) -> None:
    body = hook_request(
        conditions=bundle(HEART_FAILURE), medications=first_page(med(NORTRIPTYLINE, id="n1"))
    )
    response = post(client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


def test_conditions_sent_as_null_are_no_conditions(client: TestClient) -> None:
    body = hook_request(medications=first_page(med(NORTRIPTYLINE, id="n1")))
    body["prefetch"]["conditions"] = None
    assert post(client, body).json() == {"cards": []}


def test_phantom_limb_pain_with_paged_orders_is_never_advised_from_page_one(
    client: TestClient,
) -> None:
    body = hook_request(
        conditions=bundle(plp(), HEART_FAILURE), medications=first_page(med(NORTRIPTYLINE, id="n1"))
    )
    assert_checks_not_done(client, post(client, body), "prefetch.medications")


def test_paged_conditions_without_phantom_limb_pain_on_page_one_are_not_out_of_scope(
    client: TestClient,
) -> None:
    # Phantom limb pain could be on page two.
    body = hook_request(conditions=first_page(HEART_FAILURE), medications=bundle())
    assert_checks_not_done(client, post(client, body), "prefetch.conditions")


# Phantom limb pain as EHRs record it: every one of these puts the patient in scope, so paged
# orders must never be answered with "no cards" (a TCA on page two would go unchecked).
PHANTOM_LIMB_PAIN_AS_SENT = {
    "ICD-10-CM G54.6": condition("G54.6"),
    "SNOMED 5771000119106": condition("5771000119106", SNOMED),
    "free text only": condition(None, text="Phantom limb pain, left leg"),
    "display only": {
        **condition(None),
        "code": {"coding": [{"display": "Phantom limb syndrome with pain"}]},
    },
    "no clinical status": condition("G54.6", clinical=None),
    "recurrence": condition("G54.6", clinical="recurrence"),
    "provisional": condition("G54.6", verification="provisional"),
}


@pytest.mark.parametrize("recorded", PHANTOM_LIMB_PAIN_AS_SENT, ids=list(PHANTOM_LIMB_PAIN_AS_SENT))
def test_phantom_limb_pain_however_recorded_keeps_paged_orders_from_no_cards(
    client: TestClient, recorded: str
) -> None:
    body = hook_request(
        conditions=bundle(PHANTOM_LIMB_PAIN_AS_SENT[recorded], HEART_FAILURE),
        medications=first_page(med(NORTRIPTYLINE, id="n1")),
    )
    assert_checks_not_done(client, post(client, body), "prefetch.medications")


@pytest.mark.parametrize("status", ["resolved", "inactive", "remission"])
def test_phantom_limb_pain_no_longer_live_is_out_of_scope_despite_paged_orders(
    client: TestClient, status: str
) -> None:
    body = hook_request(
        conditions=bundle(condition("G54.6", clinical=status), HEART_FAILURE),
        medications=first_page(med(NORTRIPTYLINE, id="n1")),
    )
    assert post(client, body).json() == {"cards": []}
