"""order-select and order-sign: the precautions of GUIDELINE §4 on draft orders."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.calls import post, sign
from tests.conftest import load_example
from tests.fhir import SERVICE_IDS, SNOMED, bundle, condition, dosage, hook_request, med, plp

NORTRIPTYLINE_25 = "317136"
AMITRIPTYLINE_25 = "856834"
DESIPRAMINE_25 = "1099300"
GABAPENTIN_300 = "310431"
DULOXETINE_30 = "596930"
OXYCODONE_5 = "1049621"

HEART_FAILURE = condition("I50.9", id="hf")
AV_BLOCK = condition("270492004", SNOMED, id="avb")
HYPERTENSION = condition("I10", id="htn")


def draft(code: str | None = None, *, id: str, **kwargs: Any) -> dict[str, Any]:
    return med(code, id=id, status="draft", **kwargs)


def select(
    client: TestClient,
    drafts: list[dict[str, Any]],
    selections: list[str],
    conditions: tuple[dict[str, Any], ...] = (),
    active: tuple[dict[str, Any], ...] = (),
) -> list[dict[str, Any]]:
    body = hook_request(
        "order-select",
        conditions=bundle(plp(), *conditions),
        medications=bundle(*active),
        draftOrders=bundle(*drafts, type="collection"),
        selections=selections,
    )
    return post(client, "order-select", body)


def topics(cards: list[dict[str, Any]]) -> list[str]:
    return [c["source"]["topic"]["code"] for c in cards]


def by_topic(cards: list[dict[str, Any]], topic: str) -> dict[str, Any]:
    [card] = [c for c in cards if c["source"]["topic"]["code"] == topic]
    return card


ONE_A_DAY = [dosage(1, "{capsule}")]


class TestTcaAndTheHeart:
    def test_tca_for_cardiac_disease_is_a_warning(self, client: TestClient) -> None:
        cards = sign(
            client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)], (HEART_FAILURE,)
        )
        card = by_topic(cards, "tca-heart")
        assert card["indicator"] == "warning"
        assert "Condition/hf" in card["detail"] and "MedicationRequest/d1" in card["detail"]

    def test_a_first_degree_av_block_is_a_warning(self, client: TestClient) -> None:
        # GUIDELINE v2 §4: critical only for the hard findings (unit-tested per class in
        # tests/test_precautions.py); first-degree AV block is a warning.
        cards = sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)], (AV_BLOCK,))
        assert by_topic(cards, "tca-heart")["indicator"] == "warning"

    def test_any_tca_counts_not_only_the_suggested_ones(self, client: TestClient) -> None:
        cards = sign(
            client,
            [draft(text="Imipramine 25 mg tablet", id="d1", dosages=ONE_A_DAY)],
            (HEART_FAILURE,),
        )
        assert "tca-heart" in topics(cards)

    def test_no_heart_condition_no_card(self, client: TestClient) -> None:
        cards = sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)])
        assert "tca-heart" not in topics(cards)

    def test_a_topical_compound_is_not_a_systemic_tca(self, client: TestClient) -> None:
        compound = draft(
            text="Amitriptyline 2% / ketamine 1% cream",
            id="d1",
            dosageInstruction=[{"route": {"text": "Topical"}}],
        )
        assert sign(client, [compound], (AV_BLOCK,)) == []

    @pytest.mark.parametrize("code", [DULOXETINE_30, GABAPENTIN_300, "313583", "483450"])
    def test_snri_or_gabapentinoid_for_a_cardiac_patient_raises_nothing(
        self, client: TestClient, code: str
    ) -> None:
        assert (
            sign(client, [draft(code, id="d1", dosages=ONE_A_DAY)], (HEART_FAILURE, AV_BLOCK)) == []
        )

    def test_swap_suggestion_creates_an_snri_then_deletes_the_draft(
        self, client: TestClient
    ) -> None:
        card = by_topic(
            sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)], (HEART_FAILURE,)),
            "tca-heart",
        )
        assert card["selectionBehavior"] == "at-most-one"
        assert [s["label"] for s in card["suggestions"]] == [
            "Replace with duloxetine",
            "Replace with venlafaxine",
        ]
        # GUIDELINE v2 §5: the create first, since some clients apply only the first action.
        create, delete = card["suggestions"][0]["actions"]
        assert delete == {
            "type": "delete",
            "description": delete["description"],
            "resourceId": "MedicationRequest/d1",
        }
        assert create["type"] == "create"
        assert create["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "596926"
        assert create["resource"]["status"] == "draft"

    def test_a_draft_without_an_id_gets_no_swap(self, client: TestClient) -> None:
        order = draft(NORTRIPTYLINE_25, id="x", dosages=ONE_A_DAY)
        del order["id"]
        card = by_topic(sign(client, [order], (HEART_FAILURE,)), "tca-heart")
        assert "suggestions" not in card


class TestTcaDose:
    def test_draft_above_100_mg(self, client: TestClient) -> None:
        cards = sign(
            client,
            [draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(2, "{capsule}", frequency=3)])],
        )
        card = by_topic(cards, "tca-dose")
        assert card["indicator"] == "warning"
        assert "150 mg/day" in card["summary"]
        assert "2 × 25 mg × 3 per 1 d (3/day) = 150 mg/day" in card["detail"]

    def test_a_dose_in_ucum_pills_is_counted(self, client: TestClient) -> None:
        # As the CDS Hooks sandbox writes it: 5 × {pill} of a 25 mg capsule, once a day.
        cards = sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(5, "{pill}")])])
        card = by_topic(cards, "tca-dose")
        assert "125 mg/day" in card["summary"]
        assert "5 × 25 mg × 1 per 1 d (1/day) = 125 mg/day" in card["detail"]

    def test_exactly_100_mg_is_flagged(self, client: TestClient) -> None:
        # GUIDELINE v2 §4: "preferably below 100 mg/day", so 100 itself is flagged.
        cards = sign(
            client, [draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(50, "mg", frequency=2)])]
        )
        assert by_topic(cards, "tca-dose")["summary"] == (
            "TCA total 100 mg/day: the guideline prefers below 100 mg/day"
        )

    def test_90_mg_is_not(self, client: TestClient) -> None:
        cards = sign(
            client, [draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(45, "mg", frequency=2)])]
        )
        assert "tca-dose" not in topics(cards)

    def test_drafts_and_active_tcas_are_summed(self, client: TestClient) -> None:
        active = med("198046", id="a1", dosages=[dosage(1, "{capsule}")])  # 50 mg/day
        cards = sign(
            client,
            [draft(DESIPRAMINE_25, id="d1", dosages=[dosage(1, "{tbl}", frequency=3)])],
            active=(active,),
        )
        card = by_topic(cards, "tca-dose")
        assert "125 mg/day" in card["summary"]
        assert "MedicationRequest/a1" in card["detail"] and "MedicationRequest/d1" in card["detail"]

    def test_an_order_replaced_by_a_draft_is_not_counted_twice(self, client: TestClient) -> None:
        active = med("198046", id="a1", dosages=[dosage(1, "{capsule}")])  # 50 mg/day
        revised = draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(1, "{capsule}", frequency=3)])
        revised["priorPrescription"] = {"reference": "MedicationRequest/a1"}
        assert "tca-dose" not in topics(sign(client, [revised], active=(active,)))

    def test_a_revision_re_signed_under_the_same_id_is_not_counted_twice(
        self, client: TestClient
    ) -> None:
        active = med(NORTRIPTYLINE_25, id="a1", dosages=[dosage(1, "{capsule}", frequency=3)])
        revised = med(
            NORTRIPTYLINE_25,
            id="a1",
            status="active",
            dosages=[dosage(1, "{capsule}", frequency=3)],
        )
        assert "tca-dose" not in topics(sign(client, [revised], active=(active,)))

    def test_unknown_dose_at_signing_is_a_warning(self, client: TestClient) -> None:
        card = by_topic(sign(client, [draft(NORTRIPTYLINE_25, id="d1")]), "tca-dose")
        assert card["indicator"] == "warning"
        assert "could not be verified" in card["summary"]
        assert "no dosage instructions" in card["detail"]

    def test_unknown_dose_at_selection_is_a_note_for_signing(self, client: TestClient) -> None:
        card = by_topic(
            select(client, [draft(NORTRIPTYLINE_25, id="d1")], ["MedicationRequest/d1"]), "tca-dose"
        )
        assert card["indicator"] == "info"
        assert "will run at signing" in card["summary"]

    def test_a_known_total_above_100_wins_over_an_unknown_part(self, client: TestClient) -> None:
        drafts = [
            draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(125, "mg")]),
            draft(DESIPRAMINE_25, id="d2"),
        ]
        cards = sign(client, drafts)
        assert by_topic(cards, "tca-dose")["summary"].startswith("TCA total 125 mg/day")


class TestOtherChecks:
    def test_tca_with_risk_factors_is_info_with_an_snri_swap(self, client: TestClient) -> None:
        cards = sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)], (HYPERTENSION,))
        card = by_topic(cards, "tca-cv-risk")
        assert card["indicator"] == "info"
        create, delete = card["suggestions"][0]["actions"]
        assert create["type"] == "create" and delete["resourceId"] == "MedicationRequest/d1"

    def test_risk_factors_with_heart_disease_give_the_heart_card_only(
        self, client: TestClient
    ) -> None:
        cards = sign(
            client,
            [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)],
            (HYPERTENSION, HEART_FAILURE),
        )
        assert topics(cards) == ["tca-heart"]

    def test_opioid_caution(self, client: TestClient) -> None:
        card = by_topic(sign(client, [draft(OXYCODONE_5, id="d1")]), "opioid")
        assert card["indicator"] == "warning"
        assert "dependency" in card["detail"] and "hyperalgesia" in card["detail"]

    @pytest.mark.parametrize("code", [GABAPENTIN_300, DULOXETINE_30])
    def test_no_opioid_no_caution(self, client: TestClient, code: str) -> None:
        assert sign(client, [draft(code, id="d1")]) == []

    def test_amitriptyline_gets_a_note_with_secondary_amine_swaps(self, client: TestClient) -> None:
        card = by_topic(
            sign(client, [draft(AMITRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)]),
            "tertiary-amine-tca",
        )
        assert card["indicator"] == "info"
        assert [s["label"] for s in card["suggestions"]] == [
            "Replace with nortriptyline",
            "Replace with desipramine",
        ]

    def test_no_secondary_amine_swap_when_the_heart_is_a_concern(self, client: TestClient) -> None:
        cards = sign(
            client, [draft(AMITRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)], (HEART_FAILURE,)
        )
        assert "suggestions" not in by_topic(cards, "tertiary-amine-tca")

    def test_nortriptyline_gets_no_tertiary_note(self, client: TestClient) -> None:
        assert sign(client, [draft(NORTRIPTYLINE_25, id="d1", dosages=ONE_A_DAY)]) == []

    def test_splinting_the_residual_limb(self, client: TestClient) -> None:
        splint = {
            "resourceType": "DeviceRequest",
            "id": "s1",
            "status": "draft",
            "intent": "order",
            "codeCodeableConcept": {"text": "Immobilisation splint"},
            "subject": {"reference": "Patient/pat-1"},
            "note": [{"text": "for the stump"}],
        }
        card = by_topic(sign(client, [splint]), "splinting")
        assert card["indicator"] == "warning"
        assert card["suggestions"][0]["actions"] == [
            {
                "type": "delete",
                "description": "Remove Immobilisation splint",
                "resourceId": "DeviceRequest/s1",
            }
        ]

    def test_a_splint_without_a_site_gets_a_note(self, client: TestClient) -> None:
        splint = {
            "resourceType": "ServiceRequest",
            "id": "s1",
            "status": "draft",
            "intent": "order",
            "code": {"text": "Splinting"},
            "subject": {"reference": "Patient/pat-1"},
        }
        assert by_topic(sign(client, [splint]), "splinting")["indicator"] == "info"

    def test_a_splint_elsewhere_or_another_service_raises_nothing(self, client: TestClient) -> None:
        wrist = {
            "resourceType": "ServiceRequest",
            "id": "s1",
            "status": "draft",
            "intent": "order",
            "code": {"text": "Wrist splint"},
            "bodySite": [{"text": "Right wrist"}],
            "subject": {"reference": "Patient/pat-1"},
        }
        physio = {
            "resourceType": "ServiceRequest",
            "id": "s2",
            "status": "draft",
            "intent": "order",
            "code": {"text": "Mirror therapy"},
            "subject": {"reference": "Patient/pat-1"},
        }
        assert sign(client, [wrist, physio]) == []


class TestSelections:
    def test_only_selected_orders_are_judged(self, client: TestClient) -> None:
        drafts = [
            draft(NORTRIPTYLINE_25, id="tca", dosages=ONE_A_DAY),
            draft(GABAPENTIN_300, id="gaba"),
        ]
        assert select(client, drafts, ["MedicationRequest/gaba"], (HEART_FAILURE,)) == []
        assert topics(select(client, drafts, ["MedicationRequest/tca"], (HEART_FAILURE,))) == [
            "tca-heart"
        ]

    def test_other_drafts_count_toward_the_dose(self, client: TestClient) -> None:
        drafts = [
            draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(2, "{capsule}")]),
            draft(DESIPRAMINE_25, id="d2", dosages=[dosage(3, "{tbl}")]),
        ]
        card = by_topic(select(client, drafts, ["MedicationRequest/d1"]), "tca-dose")
        assert "125 mg/day" in card["summary"]

    def test_a_bare_id_selects_its_draft(self, client: TestClient) -> None:
        drafts = [
            draft(NORTRIPTYLINE_25, id="tca", dosages=ONE_A_DAY),
            draft(GABAPENTIN_300, id="gaba"),
        ]
        assert topics(select(client, drafts, ["tca"], (HEART_FAILURE,))) == ["tca-heart"]
        assert select(client, drafts, ["gaba"], (HEART_FAILURE,)) == []

    def test_selections_matching_no_draft_are_a_422_naming_them(self, client: TestClient) -> None:
        body = hook_request(
            "order-select",
            conditions=bundle(plp(), HEART_FAILURE),
            draftOrders=bundle(draft(NORTRIPTYLINE_25, id="tca"), type="collection"),
            selections=["MedicationRequest/tca", "MedicationRequest/gone", "other"],
        )
        response = client.post(f"/cds-services/{SERVICE_IDS['order-select']}", json=body)
        assert response.status_code == 422
        [issue] = response.json()["issue"]
        assert issue["expression"] == ["context.selections"]
        assert issue["diagnostics"] == (
            "context.selections: MedicationRequest/gone, other match no draft order in "
            "context.draftOrders (expected Type/id or the bare id of a draft)"
        )

    def test_a_selection_of_another_type_does_not_name_a_medication(
        self, client: TestClient
    ) -> None:
        body = hook_request(
            "order-select",
            conditions=bundle(plp()),
            draftOrders=bundle(draft(NORTRIPTYLINE_25, id="tca"), type="collection"),
            selections=["ServiceRequest/tca"],
        )
        response = client.post(f"/cds-services/{SERVICE_IDS['order-select']}", json=body)
        assert response.status_code == 422
        assert "ServiceRequest/tca match no draft order" in response.text

    def test_order_sign_judges_every_draft(self, client: TestClient) -> None:
        drafts = [draft(GABAPENTIN_300, id="gaba"), draft(OXYCODONE_5, id="oxy")]
        assert topics(sign(client, drafts)) == ["opioid"]

    def test_selections_are_required_at_order_select(self, client: TestClient) -> None:
        body = hook_request(
            "order-select", conditions=bundle(plp()), draftOrders=bundle(type="collection")
        )
        response = client.post(f"/cds-services/{SERVICE_IDS['order-select']}", json=body)
        assert response.status_code == 422
        assert "context.selections" in response.text

    def test_draft_orders_must_be_a_bundle(self, client: TestClient) -> None:
        body = hook_request(
            "order-sign", conditions=bundle(plp()), draftOrders={"resourceType": "Patient"}
        )
        response = client.post(f"/cds-services/{SERVICE_IDS['order-sign']}", json=body)
        assert response.status_code == 422
        assert "draftOrders" in response.text


def test_out_of_scope_patients_get_no_cards(client: TestClient) -> None:
    body = hook_request(
        "order-sign",
        conditions=bundle(condition("G54.7"), HEART_FAILURE),
        draftOrders=bundle(
            draft(NORTRIPTYLINE_25, id="d1", dosages=[dosage(200, "mg")]), type="collection"
        ),
    )
    assert post(client, "order-sign", body) == []


def apply(suggestion: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What an EHR does when a clinician accepts a suggestion: deletes and creates draft
    orders, and an update replaces the patient's order of that id (a stop)."""
    result = copy.deepcopy(body)
    drafts = result["context"]["draftOrders"]
    ids = itertools.count(1)
    for action in suggestion["actions"]:
        if action["type"] == "delete":
            drafts["entry"] = [
                e
                for e in drafts["entry"]
                if f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
                != action["resourceId"]
            ]
        elif action["type"] == "update":
            orders = result["prefetch"]["medications"]["entry"]
            replaced = [
                e
                for e in orders
                if f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
                == action["resourceId"]
            ]
            assert replaced, f"an update of an order the EHR does not hold: {action}"
            for entry in replaced:
                entry["resource"] = copy.deepcopy(action["resource"])
        else:
            created = copy.deepcopy(action["resource"]) | {"id": f"accepted-{next(ids)}"}
            drafts["entry"].append({"resource": created})
    return result


@pytest.mark.parametrize("example", ["order-select.json", "order-sign.json"])
def test_accepting_any_suggestion_does_not_raise_the_same_card_again(
    client: TestClient, example: str
) -> None:
    body = load_example(example)
    hook = body["hook"]
    first = post(client, hook, body)
    accepted = 0
    for card in first:
        for suggestion in card.get("suggestions", []):
            again = apply(suggestion, body)
            if hook == "order-select":
                created = [
                    e["resource"]
                    for e in again["context"]["draftOrders"]["entry"]
                    if e["resource"]["id"].startswith("accepted")
                ]
                kept = [
                    s
                    for s in body["context"]["selections"]
                    if s not in {a.get("resourceId") for a in suggestion["actions"]}
                ]
                again["context"]["selections"] = kept + [
                    f"{r['resourceType']}/{r['id']}" for r in created
                ]
            assert card["source"]["topic"]["code"] not in topics(post(client, hook, again))
            accepted += 1
    assert accepted >= 2


def test_the_order_select_example(client: TestClient) -> None:
    cards = post(client, "order-select", load_example("order-select.json"))
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [
        ("warning", "tca-heart"),
        ("info", "tertiary-amine-tca"),
    ]


def test_the_order_sign_example(client: TestClient) -> None:
    cards = post(client, "order-sign", load_example("order-sign.json"))
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [
        ("warning", "tca-dose"),
        ("warning", "opioid"),
        ("warning", "splinting"),
        ("info", "tca-cv-risk"),
    ]
    assert "125 mg/day" in cards[0]["summary"]


def test_summaries_carry_no_words_from_the_ehr(client: TestClient) -> None:
    # Summaries are stored with each card record, which must hold no patient data.
    drafts = [
        draft(
            text="Amitriptyline 25 mg for JANE ROE, MRN 1234", id="d1", dosages=[dosage(150, "mg")]
        ),
        draft(text="Oxycodone 5 mg (JANE ROE)", id="d2"),
    ]
    cards = sign(client, drafts, (HEART_FAILURE, condition("I10")))
    assert len(cards) >= 4
    for card in cards:
        assert "JANE" not in card["summary"] and "1234" not in card["summary"]
    assert any("JANE ROE" in card["detail"] for card in cards)


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_an_snri_ordered_while_a_tca_is_current_gets_the_stacking_warning(
    client: TestClient, hook: str
) -> None:
    # GUIDELINE v2 §4: alternatives, never stacked; the switch stops the current TCA.
    active = med(NORTRIPTYLINE_25, id="nt", dosages=[dosage(1, "{capsule}")])
    drafted = draft(DULOXETINE_30, id="dx", dosages=ONE_A_DAY, identifier=[{"value": "ord-7"}])
    if hook == "order-sign":
        cards = sign(client, [drafted], active=(active,))
    else:
        cards = select(client, [drafted], ["MedicationRequest/dx"], active=(active,))
    card = by_topic(cards, "tca-snri-stacked")
    assert card["indicator"] == "warning"
    [switch] = card["suggestions"]
    assert switch["label"] == "Switch from nortriptyline to duloxetine"
    # The drafted duloxetine is the target. A client that applies only the first action, and
    # applies a create naming a drug to the draft being written (the CDS Hooks sandbox), must
    # end with duloxetine as drafted, never with the nortriptyline being stopped: so the
    # draft is re-created first (no id, its dose kept), then deleted, then the TCA stopped.
    assert switch["actions"] == [
        {
            "type": "create",
            "description": "Draft order: Duloxetine, as drafted (dose and directions kept)",
            "resource": {k: v for k, v in drafted.items() if k not in {"id", "identifier"}},
        },
        {
            "type": "delete",
            "description": "Remove the draft order for code 596930 (its copy above takes its "
            "place)",
            "resourceId": "MedicationRequest/dx",
        },
        {
            "type": "update",
            "description": "Stop MedicationRequest/nt (nortriptyline)",
            "resourceId": "MedicationRequest/nt",
            "resource": active | {"status": "stopped"},
        },
    ]


def test_accepting_the_stacking_switch_leaves_the_snri_alone(client: TestClient) -> None:
    active = med(NORTRIPTYLINE_25, id="nt", dosages=[dosage(1, "{capsule}")])
    body = hook_request(
        "order-select",
        conditions=bundle(plp()),
        medications=bundle(active),
        draftOrders=bundle(draft(DULOXETINE_30, id="dx", dosages=ONE_A_DAY), type="collection"),
        selections=["MedicationRequest/dx"],
    )
    [switch] = by_topic(post(client, "order-select", body), "tca-snri-stacked")["suggestions"]
    # A client applying every action: one duloxetine draft (the copy), nortriptyline stopped.
    after = apply(switch, body)
    [copy_] = [e["resource"] for e in after["context"]["draftOrders"]["entry"]]
    assert copy_["medicationCodeableConcept"]["coding"][0]["code"] == DULOXETINE_30
    assert copy_["dosageInstruction"] == ONE_A_DAY
    after["context"]["selections"] = [f"MedicationRequest/{copy_['id']}"]
    assert post(client, "order-select", after) == []
    # A client applying the first action only, to the draft being written: still duloxetine.
    first = switch["actions"][0]
    assert first["type"] == "create"
    assert first["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == DULOXETINE_30


def test_a_tca_ordered_beside_a_current_snri_for_a_cardiac_patient(client: TestClient) -> None:
    # No switch towards the TCA; the heart card's fix is to keep the SNRI.
    active = med(DULOXETINE_30, id="dx")
    cards = sign(
        client, [draft(NORTRIPTYLINE_25, id="nt", dosages=ONE_A_DAY)], (HEART_FAILURE,), (active,)
    )
    assert "suggestions" not in by_topic(cards, "tca-snri-stacked")
    [keep] = by_topic(cards, "tca-heart")["suggestions"]
    assert keep["label"] == "Keep duloxetine: remove the nortriptyline draft"
    [delete] = keep["actions"]
    assert (delete["type"], delete["resourceId"]) == ("delete", "MedicationRequest/nt")


def test_the_heart_swap_also_stops_a_tca_already_current(client: TestClient) -> None:
    # Active nortriptyline, amitriptyline being drafted, first-degree AV block: swapping the
    # draft for an SNRI alone would leave nortriptyline beside it, the stacking the next
    # call warns about. The swap is a switch: the SNRI first, the draft deleted, the TCA
    # stopped; and the card names the TCA already in effect.
    active = med(NORTRIPTYLINE_25, id="nt", dosages=ONE_A_DAY)
    body = hook_request(
        "order-select",
        conditions=bundle(plp(), AV_BLOCK),
        medications=bundle(active),
        draftOrders=bundle(
            draft(AMITRIPTYLINE_25, id="ami", dosages=[dosage(1, "{tbl}")]), type="collection"
        ),
        selections=["MedicationRequest/ami"],
    )
    card = by_topic(post(client, "order-select", body), "tca-heart")
    assert card["indicator"] == "warning"
    assert "MedicationRequest/nt" in card["detail"]
    assert "second TCA: the daily dose counts both" in card["detail"]
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == [
        "Switch to duloxetine: remove the amitriptyline draft and stop nortriptyline",
        "Switch to venlafaxine: remove the amitriptyline draft and stop nortriptyline",
    ]
    for suggestion in card["suggestions"]:
        create, delete, stop = suggestion["actions"]
        assert create["type"] == "create"
        assert (delete["type"], delete["resourceId"]) == ("delete", "MedicationRequest/ami")
        assert (stop["type"], stop["resourceId"]) == ("update", "MedicationRequest/nt")
        assert stop["resource"] == active | {"status": "stopped"}
        # Accepted whole, the swap raises nothing: no stacking of our own making.
        after = apply(suggestion, body)
        after["context"]["selections"] = [
            f"MedicationRequest/{e['resource']['id']}"
            for e in after["context"]["draftOrders"]["entry"]
        ]
        assert post(client, "order-select", after) == []


def test_the_risk_factor_swap_also_stops_a_tca_already_current(client: TestClient) -> None:
    active = med(NORTRIPTYLINE_25, id="nt", dosages=ONE_A_DAY)
    cards = sign(
        client,
        [draft(DESIPRAMINE_25, id="des", dosages=ONE_A_DAY)],
        (HYPERTENSION,),
        (active,),
    )
    card = by_topic(cards, "tca-cv-risk")
    assert "MedicationRequest/nt" in card["detail"]
    for suggestion in card["suggestions"]:
        assert [(a["type"], a.get("resourceId")) for a in suggestion["actions"]] == [
            ("create", None),
            ("delete", "MedicationRequest/des"),
            ("update", "MedicationRequest/nt"),
        ]


def test_a_tca_and_an_snri_drafted_together_for_a_cardiac_patient(client: TestClient) -> None:
    # The SNRI is already being ordered: the heart card's fix is to drop the TCA draft, never
    # to order a second SNRI (or duloxetine twice).
    cards = sign(
        client,
        [draft(NORTRIPTYLINE_25, id="nt", dosages=ONE_A_DAY), draft(DULOXETINE_30, id="dx")],
        (HEART_FAILURE,),
    )
    creates = [
        a
        for c in cards
        for s in c.get("suggestions", [])
        for a in s["actions"]
        if a["type"] == "create"
    ]
    assert creates == []
    heart = by_topic(cards, "tca-heart")
    [keep] = heart["suggestions"]
    assert keep["label"] == "Keep duloxetine: remove the nortriptyline draft"
    # The stacking warning reaches the same fix: it is offered once, on the heart card (the
    # more serious, and first), and the stacking card says where.
    stacked = by_topic(cards, "tca-snri-stacked")
    assert "suggestions" not in stacked and "selectionBehavior" not in stacked
    assert (
        f"**Offered on the card \u201c{heart['summary']}\u201d above** (not repeated here): "
        "Keep duloxetine: remove the nortriptyline draft." in stacked["detail"]
    )
    assert topics(cards).index("tca-heart") < topics(cards).index("tca-snri-stacked")


def test_a_count_of_pills_with_no_readable_strength_at_selection(client: TestClient) -> None:
    # The sandbox writes its doses as UCUM {pill}; a drug named only by text has no strength
    # to multiply by. The dose is written, so it is not "not yet complete", and the clinician
    # reads "tablets/capsules", never "{pill}".
    drafted = draft(text="Nortriptyline", id="d1", dosages=[dosage(2, "{pill}")])
    cards = select(client, [drafted], ["MedicationRequest/d1"])
    card = by_topic(cards, "tca-dose")
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "TCA product strength could not be read: check the daily dose against 100 mg/day"
    )
    assert "2 tablets/capsules, and the product's strength could not be read" in card["detail"]
    assert "{pill}" not in card["detail"] and "not yet complete" not in card["summary"]


def test_the_stacking_card_wording(client: TestClient) -> None:
    active = med(DULOXETINE_30, id="dx")
    cards = sign(
        client, [draft(NORTRIPTYLINE_25, id="nt", dosages=ONE_A_DAY)], (AV_BLOCK,), (active,)
    )
    card = by_topic(cards, "tca-snri-stacked")
    assert card["summary"] == (
        "TCA and SNRI together: they are alternatives; switch from one to the other"
    )
    assert "**Heart:**\n- code 270492004 (Condition/avb)" in card["detail"]
    assert "The heart is a concern, so no switch towards the TCA is offered." in card["detail"]
    assert "((" not in card["detail"] and "))" not in card["detail"]


@pytest.mark.parametrize("example", ["order-select.json", "order-sign.json"])
def test_every_draft_order_is_described_alike(client: TestClient, example: str) -> None:
    body = load_example(example)
    for card in post(client, body["hook"], body):
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if action["type"] == "create" and "Draft order" in action["description"]:
                    assert re.fullmatch(
                        r"Draft order: [A-Z][^()]* \((set dose and directions|set dose; "
                        r"directions prefilled|complete the request)\)|Draft order: [A-Z].*, as "
                        r"drafted \(dose and directions kept\)",
                        action["description"],
                    ), action["description"]
