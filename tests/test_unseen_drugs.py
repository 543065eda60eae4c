"""An order whose drug cannot be seen: a `medicationReference` to a Medication that is
neither contained, bundled nor fetchable, with no display to read instead.

Such an order could be a TCA or an opioid. Leaving it out would be advice from part of the
chart, the false-safe the guideline does not accept; the CDS Hooks digest (§3) has the
service answer 412 when it cannot get the FHIR data it needs, and the FHIR server fallback
already does so when a Medication lookup fails. So: the Medication is fetched when it can
be, and otherwise the answer is a 412 naming the order and the reference. Orders the
guideline does not read (cancelled, entered in error, plans) and charts out of scope do not
need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import respx
from fastapi.testclient import TestClient

from cds.app import create_app
from cds.settings import Settings
from fhir_mappings.medications import UnseenDrug, unseen_drugs
from tests.fhir import (
    PATIENT_ID,
    SERVICE_IDS,
    bundle,
    condition,
    dosage,
    fhir_authorization,
    hook_request,
    med,
    plp,
)

FHIR = "https://fhir.example.org/r4"
TOKEN = "secret-access-token-5d1e"
NORTRIPTYLINE = {
    "resourceType": "Medication",
    "id": "ntp",
    "code": {
        "coding": [
            {
                "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "code": "317136",
                "display": "nortriptyline 25 MG Oral Capsule",
            }
        ]
    },
}


def by_reference(reference: str, *, display: str | None = None, **order: Any) -> dict[str, Any]:
    target = {"reference": reference} | ({"display": display} if display else {})
    return med(medicationReference=target, **order)


# --- which orders are unseen ---------------------------------------------------------------


def test_unseen_drugs_among_orders() -> None:
    orders = [
        by_reference("Medication/gone", id="a"),
        by_reference("#m", id="b"),  # contained, but the order holds no #m
        by_reference("#m", id="c", contained=[NORTRIPTYLINE | {"id": "m"}]),
        by_reference("Medication/ntp", id="d"),  # bundled
        by_reference(f"{FHIR}/Medication/ntp", id="e"),  # bundled, by absolute URL
        by_reference("Medication/gone", id="f", display="Pamelor 25 mg"),  # read by display
        by_reference("Medication/gone", id="g", status="completed"),
        by_reference("Medication/gone", id="h", status="stopped"),
        by_reference("Medication/gone", id="i", status="on-hold"),
        by_reference("Medication/gone", id="j", status="cancelled"),
        by_reference("Medication/gone", id="k", status="entered-in-error"),
        by_reference("Medication/gone", id="l", status="draft"),
        by_reference("Medication/gone", id="m", intent="plan"),
        med("317136", id="n"),
    ]
    bundled = {"Medication/ntp": NORTRIPTYLINE}

    assert unseen_drugs(orders, bundled) == (
        UnseenDrug("MedicationRequest/a", "Medication/gone"),
        UnseenDrug("MedicationRequest/b", "#m"),
        UnseenDrug("MedicationRequest/g", "Medication/gone"),
        UnseenDrug("MedicationRequest/h", "Medication/gone"),
        UnseenDrug("MedicationRequest/i", "Medication/gone"),
    )
    # Every draft order is judged at signing, whatever its status or intent.
    drafts = [by_reference("#x", id="d1", status="draft", intent="proposal")]
    assert unseen_drugs(drafts, {}, drafts=True) == (UnseenDrug("MedicationRequest/d1", "#x"),)


# --- through the service -------------------------------------------------------------------

HEART = condition("I44.7", id="lbbb")  # left bundle branch block: a TCA is critical


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def served(tmp_path: Any) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", cds_fhir_allowlist=f"{FHIR}/"
    )
    with TestClient(create_app(settings)) as client:
        yield client


def with_server(body: dict[str, Any]) -> dict[str, Any]:
    body["prefetch"]["allergies"] = None  # none recorded: only Medications are fetched
    body["fhirServer"] = FHIR
    body["fhirAuthorization"] = fhir_authorization(TOKEN)
    return body


def diagnostics(response: Any, expression: str) -> str:
    assert response.status_code == 412, response.text
    [issue] = response.json()["issue"]
    assert (issue["code"], issue["expression"]) == ("not-found", [expression])
    message: str = issue["diagnostics"]
    return message


def test_an_active_order_whose_drug_cannot_be_had_is_a_412_naming_it(
    served: TestClient,
) -> None:
    body = hook_request(
        conditions=bundle(plp(), HEART), medications=bundle(by_reference("Medication/x", id="o1"))
    )
    response = served.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert diagnostics(response, "prefetch.medications") == (
        "The guideline's checks cannot be applied to an order whose drug is unknown: "
        "MedicationRequest/o1 names its drug only as Medication/x, a Medication not in the "
        "data sent and not fetched (The request names no fhirServer.)."
    )


def test_a_prefetch_only_service_says_so(tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cds.db'}", cds_prefetch_resolution="none"
    )
    body = hook_request(
        conditions=bundle(plp()), medications=bundle(by_reference("Medication/x", id="o1"))
    )
    with TestClient(create_app(settings)) as client:
        response = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert diagnostics(response, "prefetch.medications").endswith(
        "Medication/x, a Medication not in the data sent and not fetched (this service is "
        "configured for prefetch only (CDS_PREFETCH_RESOLUTION=none))."
    )


def test_out_of_scope_the_orders_do_not_matter(served: TestClient) -> None:
    body = hook_request(
        conditions=bundle(HEART), medications=bundle(by_reference("Medication/x", id="o1"))
    )
    response = served.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert (response.status_code, response.json()) == (200, {"cards": []})


def test_a_cancelled_order_is_not_needed(served: TestClient) -> None:
    body = hook_request(
        conditions=bundle(plp()),
        medications=bundle(by_reference("Medication/x", id="o1", status="cancelled")),
    )
    response = served.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body)
    assert response.status_code == 200
    [card] = response.json()["cards"]
    assert card["summary"] == "Phantom limb pain: guideline starts with gabapentin or pregabalin"


def test_a_draft_referencing_a_medication_on_the_server_is_fetched_and_checked(
    served: TestClient, ehr: respx.MockRouter
) -> None:
    # Before, a draft's Medication was never fetched: this TCA for a patient with a left
    # bundle branch block was dropped and signing met no card at all.
    fetched = ehr.get(f"{FHIR}/Medication/ntp").respond(json=NORTRIPTYLINE)
    draft = by_reference(
        "Medication/ntp", id="d1", status="draft", dosages=[dosage(1, "{capsule}")]
    )
    body = with_server(
        hook_request(
            "order-sign",
            conditions=bundle(plp(), HEART),
            draftOrders=bundle(draft, type="collection"),
        )
    )
    response = served.post(f"/cds-services/{SERVICE_IDS['order-sign']}", json=body)
    assert response.status_code == 200, response.text
    heart = [c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "tca-heart"]
    assert [c["indicator"] for c in heart] == ["critical"]
    assert "MedicationRequest/d1" in heart[0]["detail"] and "Condition/lbbb" in heart[0]["detail"]
    assert fetched.call_count == 1
    assert fetched.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_draft_whose_drug_cannot_be_had_is_a_412_naming_it(
    served: TestClient, ehr: respx.MockRouter
) -> None:
    ehr.get(f"{FHIR}/Medication/gone").respond(404)
    drafts = bundle(
        by_reference("#m", id="d1", status="draft"),
        by_reference("Medication/gone", id="d2", status="draft"),
        type="collection",
    )
    body = with_server(hook_request("order-sign", conditions=bundle(plp()), draftOrders=drafts))
    response = served.post(f"/cds-services/{SERVICE_IDS['order-sign']}", json=body)
    assert diagnostics(response, "context.draftOrders") == (
        "The guideline's checks cannot be applied to an order whose drug is unknown: "
        "MedicationRequest/d1 names its drug only as #m, a contained Medication the order "
        "does not hold; MedicationRequest/d2 names its drug only as Medication/gone, a "
        "Medication not in the data sent and not fetched (Medication/gone: HTTP 404 from the "
        "FHIR server)."
    )
    assert TOKEN not in response.text


def test_a_draft_may_reference_a_medication_the_prefetch_holds(served: TestClient) -> None:
    draft = by_reference(
        "Medication/ntp", id="d1", status="draft", dosages=[dosage(1, "{capsule}")]
    )
    body = hook_request(
        "order-sign",
        prefetch={
            "patient": {"resourceType": "Patient", "id": PATIENT_ID},
            "conditions": bundle(plp(), HEART),
            "medications": bundle(NORTRIPTYLINE),
        },
        draftOrders=bundle(draft, type="collection"),
    )
    response = served.post(f"/cds-services/{SERVICE_IDS['order-sign']}", json=body)
    assert response.status_code == 200, response.text
    codes = [c["source"]["topic"]["code"] for c in response.json()["cards"]]
    assert "tca-heart" in codes
