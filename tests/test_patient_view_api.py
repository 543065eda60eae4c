"""patient-view through the HTTP API: discovery, the card, prefetch forms and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conformance import assert_conformant
from tests.conftest import TESTDATA, load_example
from tests.fhir import SERVICE_IDS, SNOMED, bundle, condition, dosage, hook_request, med, plp

URL = f"/cds-services/{SERVICE_IDS['patient-view']}"


def cards(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert_conformant(payload)
    return payload["cards"]


def test_discovery_lists_one_service_per_hook(client: TestClient) -> None:
    services = client.get("/cds-services").json()["services"]
    assert sorted(s["hook"] for s in services) == ["order-select", "order-sign", "patient-view"]
    common = {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "medications": "MedicationRequest?patient={{context.patientId}}",
        "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    }
    pain_scores = (
        "Observation?patient={{context.patientId}}"
        "&code=http://loinc.org|72514-3,http://loinc.org|38208-5,http://loinc.org|38214-3"
        "&_sort=-date&_count=20"
    )
    for service in services:
        assert service["title"] and service["description"] and service["id"]
        if service["hook"] == "patient-view":
            assert service["prefetch"] == common | {"painScores": pain_scores}
        else:
            assert service["prefetch"] == common


def test_the_example_request_gets_the_expected_card(client: TestClient) -> None:
    [card] = cards(client, load_example("patient-view.json"))
    assert card["indicator"] == "info"
    assert (
        card["summary"]
        == "Phantom limb pain, step 1: if relief is insufficient, add or switch to an SNRI"
    )
    assert "MedicationRequest/gaba" in card["detail"]
    assert "Condition/hf" in card["detail"]
    assert "nortriptyline" not in card["detail"]
    assert card["selectionBehavior"] == "any"
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == ["Duloxetine", "Venlafaxine", "Lidocaine 5% patch to the residual limb"]


def test_step_one_card_suggests_gabapentinoids_as_draft_orders(client: TestClient) -> None:
    [card] = cards(client, hook_request(conditions=bundle(plp())))
    assert "gabapentin or pregabalin" in card["summary"]
    resources = [s["actions"][0]["resource"] for s in card["suggestions"]]
    assert [r["medicationCodeableConcept"]["coding"][0]["code"] for r in resources] == [
        "310430",
        "483448",
        "1745091",
    ]
    for resource in resources:
        assert resource["status"] == "draft"
        assert resource["subject"] == {"reference": "Patient/pat-1"}
        assert resource["reasonReference"] == [{"reference": "Condition/plp"}]
    assert "Reassess pain and quality of life" in card["detail"]


def test_each_step_has_its_own_summary(client: TestClient) -> None:
    gabapentin, nortriptyline, oxycodone = (
        med("310431"),
        med("317136"),
        med("1049621", status="completed"),
    )
    summaries = [
        cards(client, hook_request(conditions=bundle(plp()), medications=bundle(*meds)))[0][
            "summary"
        ]
        for meds in (
            [],
            [gabapentin],
            [gabapentin, nortriptyline],
            [gabapentin, nortriptyline, oxycodone],
        )
    ]
    assert len(set(summaries)) == 4
    assert "step 2" in summaries[2] and "refractory" in summaries[3]


def test_step_two_suggests_service_requests(client: TestClient) -> None:
    meds = bundle(med("310431"), med("596930"))
    [card] = cards(client, hook_request(conditions=bundle(plp()), medications=meds))
    kinds = [s["actions"][0]["resource"]["resourceType"] for s in card["suggestions"]]
    assert kinds == ["ServiceRequest", "ServiceRequest", "ServiceRequest", "MedicationRequest"]
    compound = card["suggestions"][3]["actions"][0]["resource"]
    assert (
        compound["contained"][0]["ingredient"][0]["itemCodeableConcept"]["coding"][0]["code"]
        == "704"
    )


def test_risk_factors_are_named_in_the_card(client: TestClient) -> None:
    conditions = bundle(plp(), condition("I10", id="htn"))
    [card] = cards(client, hook_request(conditions=conditions, medications=bundle(med("310431"))))
    assert "Condition/htn" in card["detail"]
    assert [s["label"] for s in card["suggestions"]][:2] == ["Duloxetine", "Venlafaxine"]


@pytest.mark.parametrize(
    "conditions",
    [
        bundle(),
        bundle(condition("G54.7")),
        bundle(condition("G54.6", clinical="resolved")),
        bundle(condition("G54.6", verification="entered-in-error")),
        None,
    ],
)
def test_out_of_scope_patients_get_no_cards(client: TestClient, conditions: Any) -> None:
    body = hook_request()
    body["prefetch"]["conditions"] = conditions
    assert client.post(URL, json=body).json() == {"cards": []}


def test_null_prefetch_means_no_data_not_missing_data(client: TestClient) -> None:
    body = hook_request(conditions=bundle(plp()))
    body["prefetch"]["medications"] = None
    [card] = cards(client, body)
    assert "gabapentin or pregabalin" in card["summary"]


def test_a_single_resource_as_prefetch_value(client: TestClient) -> None:
    body = hook_request(conditions=plp(), medications=med("310431"))
    [card] = cards(client, body)
    assert "MedicationRequest/" in card["detail"]


@pytest.mark.parametrize("key", ["conditions", "medications"])
def test_absent_prefetch_without_a_fhir_server_is_412(client: TestClient, key: str) -> None:
    body = hook_request(conditions=bundle(plp()))
    del body["prefetch"][key]
    response = client.post(URL, json=body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [f"prefetch.{key}"]


def test_operation_outcome_prefetch_is_treated_as_missing(client: TestClient) -> None:
    body = hook_request(conditions=bundle(plp()))
    body["prefetch"]["medications"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = client.post(URL, json=body)
    assert response.status_code == 412
    assert "medications" in response.json()["issue"][0]["diagnostics"]


def test_no_prefetch_at_all_is_412(client: TestClient) -> None:
    body = hook_request()
    del body["prefetch"]
    assert client.post(URL, json=body).status_code == 412


def test_active_tca_with_heart_disease_gets_a_warning_beside_the_summary(
    client: TestClient,
) -> None:
    conditions = bundle(plp(), condition("I25.10", id="cad"))
    medications = bundle(med("317136", id="nt", dosages=[dosage(1, "{capsule}")]))
    # The warning first: clients may show cards in the order they arrive.
    warning, summary = cards(client, hook_request(conditions=conditions, medications=medications))
    assert summary["indicator"] == "info"
    assert warning["indicator"] == "warning"
    assert "MedicationRequest/nt" in warning["detail"] and "Condition/cad" in warning["detail"]
    # The switch to an SNRI is offered once, on the warning; the summary says where it is.
    switches = [s["label"] for s in warning["suggestions"]]
    assert switches == [
        "Switch from nortriptyline to duloxetine",
        "Switch from nortriptyline to venlafaxine",
    ]
    assert not {s["label"] for s in summary["suggestions"]} & set(switches)
    assert f"\u201c{warning['summary']}\u201d above" in summary["detail"]
    # With no switch left, any of the summary's suggestions may be taken together.
    assert summary["selectionBehavior"] == "any"
    # A draft order is described alike on every card.
    descriptions = {a["description"] for s in summary["suggestions"] for a in s["actions"]}
    assert "Draft order: Gabapentin (set dose and directions)" in descriptions
    assert "Draft order: Duloxetine (set dose and directions)" in {
        a["description"] for s in warning["suggestions"] for a in s["actions"]
    }


def test_active_tca_with_a_first_degree_av_block_is_a_warning(client: TestClient) -> None:
    # GUIDELINE v2 §4 (severity per finding: tests/test_precautions.py).
    conditions = bundle(plp(), condition("270492004", SNOMED))
    medications = bundle(med("317136", dosages=[dosage(1, "{capsule}")]))
    indicators = [
        c["indicator"]
        for c in cards(client, hook_request(conditions=conditions, medications=medications))
    ]
    assert indicators == ["warning", "info"]


def test_active_tca_above_100_mg_gets_a_dose_warning(client: TestClient) -> None:
    medications = bundle(med("317136", id="nt", dosages=[dosage(2, "{capsule}", frequency=3)]))
    warning, _ = cards(client, hook_request(conditions=bundle(plp()), medications=medications))
    assert warning["summary"] == "TCA total 150 mg/day: the guideline prefers below 100 mg/day"
    assert "2 × 25 mg × 3 per 1 d (3/day) = 150 mg/day" in warning["detail"]


def test_tca_at_100_mg_is_flagged_and_at_90_not(client: TestClient) -> None:
    # GUIDELINE v2 §4: "preferably below 100 mg/day".
    at_100 = bundle(med("317136", dosages=[dosage(100, "mg")]))
    at_90 = bundle(med("317136", dosages=[dosage(90, "mg")]))
    warning, _ = cards(client, hook_request(conditions=bundle(plp()), medications=at_100))
    assert warning["source"]["topic"]["code"] == "tca-dose"
    assert len(cards(client, hook_request(conditions=bundle(plp()), medications=at_90))) == 1


def test_tca_dose_unknown_is_said_in_the_summary(client: TestClient) -> None:
    medications = bundle(med("317136", id="nt"))
    [card] = cards(client, hook_request(conditions=bundle(plp()), medications=medications))
    assert "TCA dose not verified" in card["detail"] and "MedicationRequest/nt" in card["detail"]


def test_topical_amitriptyline_is_not_a_systemic_tca(client: TestClient) -> None:
    compound = med("704", dosageInstruction=[{"route": {"text": "topical"}}])
    conditions = bundle(plp(), condition("I50.9"))
    assert (
        len(cards(client, hook_request(conditions=conditions, medications=bundle(compound)))) == 1
    )


def test_synthea_patient_without_phantom_limb_pain_gets_no_cards(client: TestClient) -> None:
    path = (
        TESTDATA / "synthea-r4-bundles" / "Dirk_Kuhlman_1e503533-b8c2-42cb-a6d5-bbd7d70d07ad.json"
    )
    record = json.loads(path.read_text())
    response = client.post(URL, json=hook_request(conditions=record, medications=record))
    assert response.json() == {"cards": []}


def test_synthea_patient_with_phantom_limb_pain_added(client: TestClient) -> None:
    path = (
        TESTDATA / "synthea-r4-bundles" / "Dirk_Kuhlman_1e503533-b8c2-42cb-a6d5-bbd7d70d07ad.json"
    )
    record = json.loads(path.read_text())
    record["entry"].append({"resource": condition("5771000119106", SNOMED, id="plp-added")})
    # The same bundle under both keys: each resource is read once.
    [card] = cards(client, hook_request(conditions=record, medications=record))
    assert card["detail"].count("Condition/plp-added") == 1
    assert "gabapentin or pregabalin" in card["summary"]


def test_a_malformed_resource_in_a_bundle_is_skipped(client: TestClient) -> None:
    conditions = bundle(plp())
    conditions["entry"].append({"resource": {"resourceType": "Condition", "code": "not an object"}})
    conditions["entry"].append({"resource": None})
    assert len(cards(client, hook_request(conditions=conditions))) == 1


class TestBadInput:
    def post(
        self, client: TestClient, body: Any, service: str = SERVICE_IDS["patient-view"]
    ) -> Any:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(f"/cds-services/{service}", content=content)

    def assert_error(self, response: Any, status: int, mention: str) -> None:
        assert response.status_code == status
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert mention in json.dumps(outcome)

    def test_unknown_service_is_404(self, client: TestClient) -> None:
        self.assert_error(self.post(client, hook_request(), "nope"), 404, "nope")

    def test_not_json_is_400(self, client: TestClient) -> None:
        self.assert_error(self.post(client, b"{not json"), 400, "not valid JSON")

    def test_json_that_is_not_an_object_is_400(self, client: TestClient) -> None:
        self.assert_error(self.post(client, [1, 2]), 400, "JSON object")

    @pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
    def test_missing_required_field_is_422(self, client: TestClient, field: str) -> None:
        body = hook_request()
        del body[field]
        self.assert_error(self.post(client, body), 422, field)

    def test_missing_patient_id_is_422(self, client: TestClient) -> None:
        body = hook_request()
        del body["context"]["patientId"]
        self.assert_error(self.post(client, body), 422, "context.patientId")

    def test_wrong_types_are_422(self, client: TestClient) -> None:
        body = hook_request()
        body["context"] = "patient"
        self.assert_error(self.post(client, body), 422, "context")
        body = hook_request()
        body["prefetch"] = ["x"]
        self.assert_error(self.post(client, body), 422, "prefetch")

    def test_hook_that_does_not_match_the_service_is_400(self, client: TestClient) -> None:
        self.assert_error(self.post(client, hook_request("order-sign")), 400, "patient-view")

    def test_get_on_a_hook_endpoint_is_405_with_json(self, client: TestClient) -> None:
        response = client.get(URL)
        assert response.status_code == 405
        assert response.json()["resourceType"] == "OperationOutcome"


def test_a_phantom_limb_pain_condition_without_an_id_is_not_cited(client: TestClient) -> None:
    unnamed = condition(text="Phantom limb pain")
    del unnamed["id"]
    [card] = cards(client, hook_request(conditions=bundle(unnamed)))
    for suggestion in card["suggestions"]:
        assert "reasonReference" not in suggestion["actions"][0]["resource"]


def test_a_current_tca_is_offered_an_snri_only_as_a_switch(client: TestClient) -> None:
    # GUIDELINE v2 §3: the new draft first, then the current order sent back stopped.
    nortriptyline = med("317136", id="nt", dosages=[dosage(1, "{capsule}")])
    body = hook_request(conditions=bundle(plp()), medications=bundle(nortriptyline))
    [card] = cards(client, body)
    assert card["summary"] == (
        "Phantom limb pain, step 1: if relief is insufficient, add gabapentin or pregabalin, "
        "or switch to an SNRI"
    )
    switches = [s for s in card["suggestions"] if s["label"].startswith("Switch")]
    assert [s["label"] for s in switches] == [
        "Switch from nortriptyline to duloxetine",
        "Switch from nortriptyline to venlafaxine",
    ]
    create, update = switches[0]["actions"]
    assert create["type"] == "create"
    assert update == {
        "type": "update",
        "description": "Stop MedicationRequest/nt (nortriptyline)",
        "resourceId": "MedicationRequest/nt",
        "resource": nortriptyline | {"status": "stopped"},
    }
    assert card["selectionBehavior"] == "at-most-one"
    assert not [s for s in card["suggestions"] if s["label"] in ("Duloxetine", "Venlafaxine")]


def test_the_reassessment_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from cds.settings import Settings

    assert Settings().cds_reassessment_interval_days == 90
    monkeypatch.setenv("CDS_REASSESSMENT_INTERVAL_DAYS", "30")
    assert Settings().cds_reassessment_interval_days == 30
    monkeypatch.setenv("CDS_REASSESSMENT_INTERVAL_DAYS", "0")
    with pytest.raises(ValidationError, match="cds_reassessment_interval_days"):
        Settings()


def test_without_allergies_the_card_says_its_suggestions_were_not_checked(
    client: TestClient,
) -> None:
    # No `allergies` prefetch and no FHIR server to ask: the optional key is given up.
    [card] = cards(client, hook_request(conditions=bundle(plp())))
    assert "**Allergies and intolerances were not available**" in card["detail"]
    body = hook_request(conditions=bundle(plp()))
    body["prefetch"]["allergies"] = bundle()
    [card] = cards(client, body)
    assert "Allergies and intolerances were not available" not in card["detail"]
