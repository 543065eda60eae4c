"""CDS_UNAVAILABLE_DATA_ANSWER=card: data the hook needs and cannot get is answered with one
card that says the checks were not done, for clients that show a 412 as no advice (the CDS
Hooks sandbox shows "All clear!"). By default it stays a 412."""

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
AMITRIPTYLINE = "856834"  # amitriptyline hydrochloride 25 MG Oral Tablet


def serve(tmp_path: Path, **settings: Any) -> Iterator[TestClient]:
    configured = Settings(database_url=f"sqlite:///{tmp_path / 'cds.db'}", **settings)
    with TestClient(create_app(configured)) as client:
        yield client


@pytest.fixture
def carded(tmp_path: Path) -> Iterator[TestClient]:
    yield from serve(tmp_path, cds_unavailable_data_answer="card")


@pytest.fixture
def default(tmp_path: Path) -> Iterator[TestClient]:
    yield from serve(tmp_path)


def post(client: TestClient, hook: str, body: dict[str, Any]) -> Any:
    return client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=body)


def tca_for_a_heart_patient_with_paged_conditions() -> dict[str, Any]:
    return hook_request(
        "order-sign",
        conditions=first_page(plp(), HEART_FAILURE),
        medications=bundle(),
        draftOrders=bundle(med(AMITRIPTYLINE, id="d1", status="draft"), type="collection"),
    )


def the_card(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    [card] = response.json()["cards"]
    return dict(card)


def test_by_default_data_that_cannot_be_had_is_a_412(default: TestClient) -> None:
    response = post(default, "order-sign", tca_for_a_heart_patient_with_paged_conditions())
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["prefetch.conditions"]


def test_a_tca_signed_on_a_paged_chart_gets_a_card_saying_the_checks_were_not_done(
    carded: TestClient,
) -> None:
    card = the_card(post(carded, "order-sign", tca_for_a_heart_patient_with_paged_conditions()))
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Phantom limb pain checks not done: the service could not read the whole chart"
    )
    assert card["source"]["topic"]["code"] == "checks-not-done"
    # No advice: nothing to accept, and nothing read from page one.
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert "tricyclic antidepressants with cardiac disease" in card["detail"]
    # The 412's own explanation, which names the key that was paged (as literal Markdown:
    # its colons escaped, as in all EHR-derived text).
    assert (
        "**Why:** Required prefetch data is missing or incomplete\\: conditions (paged"
        in (card["detail"])
    )
    assert [r["code"] for r in card["overrideReasons"]] == ["chart-reviewed"]


@pytest.mark.parametrize("hook", ["patient-view", "order-select"])
def test_every_hook_answers_the_same_way(carded: TestClient, hook: str) -> None:
    body = tca_for_a_heart_patient_with_paged_conditions()
    body["hook"] = hook
    if hook == "patient-view":
        del body["context"]["draftOrders"]
    else:
        body["context"]["selections"] = ["MedicationRequest/d1"]
    assert the_card(post(carded, hook, body))["source"]["topic"]["code"] == "checks-not-done"


def test_an_order_whose_drug_cannot_be_known_gets_the_card_naming_it(carded: TestClient) -> None:
    order = med(None, id="o1")
    order["medicationReference"] = {"reference": "Medication/x"}
    body = hook_request(conditions=bundle(plp(), HEART_FAILURE), medications=bundle(order))
    detail = the_card(post(carded, "patient-view", body))["detail"]
    assert "MedicationRequest/o1 names its drug only as Medication/x" in detail


def test_a_bad_request_is_still_an_error(carded: TestClient) -> None:
    body = tca_for_a_heart_patient_with_paged_conditions()
    del body["context"]["draftOrders"]
    assert post(carded, "order-sign", body).status_code == 422


def test_a_complete_chart_is_advised_as_usual(carded: TestClient) -> None:
    body = tca_for_a_heart_patient_with_paged_conditions()
    body["prefetch"]["conditions"] = bundle(plp(), HEART_FAILURE)
    response = post(carded, "order-sign", body)
    assert response.status_code == 200
    topics = {c["source"]["topic"]["code"] for c in response.json()["cards"]}
    assert "tca-heart" in topics and "checks-not-done" not in topics


def test_the_setting_takes_only_its_two_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cds_unavailable_data_answer"):
        Settings(database_url=f"sqlite:///{tmp_path / 'cds.db'}", cds_unavailable_data_answer="x")
