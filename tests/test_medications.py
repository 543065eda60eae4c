"""Medication identity, class, route and status (GUIDELINE §2, §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from facts.classes import TherapyClass
from facts.medications import MedicationFact
from fhir_mappings.facts import patient_facts
from fhir_mappings.medications import medication_fact
from fhir_mappings.resources import collect
from fhir_mappings.terminology import CLINICAL_DRUGS
from tests.conftest import TESTDATA
from tests.fhir import ATC, RXNORM, bundle, med

T = TherapyClass


def fact(order: dict[str, Any], bundled: dict[str, Any] | None = None) -> MedicationFact:
    result = medication_fact(order, bundled or {})
    assert result is not None
    return result


@pytest.mark.parametrize("rxcui", sorted(CLINICAL_DRUGS))
def test_every_clinical_drug_in_the_table_is_identified(rxcui: str) -> None:
    drug = CLINICAL_DRUGS[rxcui]
    found = fact(med(rxcui))
    assert found.ingredients == drug.ingredients
    assert found.classes


@pytest.mark.parametrize(
    ("code", "system", "ingredient", "therapy_class"),
    [
        ("25480", RXNORM, "gabapentin", T.GABAPENTINOID),
        ("187832", RXNORM, "pregabalin", T.GABAPENTINOID),
        ("7531", RXNORM, "nortriptyline", T.TCA),
        ("704", RXNORM, "amitriptyline", T.TCA),
        ("72625", RXNORM, "duloxetine", T.SNRI),
        ("7804", RXNORM, "oxycodone", T.OPIOID),
        ("N02BF01", ATC, "gabapentin", T.GABAPENTINOID),
        ("N03AX16", ATC, "pregabalin", T.GABAPENTINOID),
        ("N06AA10", ATC, "nortriptyline", T.TCA),
        ("N06AX16", ATC, "venlafaxine", T.SNRI),
        ("N01AX03", ATC, "ketamine", T.NMDA_ANTAGONIST),
        ("N02AA01", ATC, "morphine", T.OPIOID),
    ],
)
def test_ingredient_and_atc_codes(
    code: str, system: str, ingredient: str, therapy_class: T
) -> None:
    found = fact(med(code, system))
    assert found.ingredients == (ingredient,)
    assert found.classes == {therapy_class}


def test_an_unlisted_atc_tricyclic_is_still_a_tca() -> None:
    found = fact(med("N06AA02", ATC))  # imipramine, not in terminology.md's rows
    assert found.classes == {T.TCA}
    assert found.systemic_tca


def test_text_only_medication() -> None:
    found = fact(med(text="Nortriptyline 25mg cap"))
    assert found.ingredients == ("nortriptyline",)
    assert found.systemic_tca


@pytest.mark.parametrize(
    "name", ["imipramine", "clomipramine", "doxepin", "trimipramine", "Dothiepin"]
)
def test_every_tca_is_a_tca_for_the_safety_checks(name: str) -> None:
    assert fact(med(text=f"{name} 25 mg tablet")).systemic_tca


def test_unknown_medications_carry_no_fact() -> None:
    assert medication_fact(med("197361", text="amlodipine 5 MG Oral Tablet"), {}) is None
    assert medication_fact(med(), {}) is None


def test_medication_reference_to_a_contained_medication() -> None:
    order = med(medicationReference={"reference": "#m1"})
    order["contained"] = [
        {
            "resourceType": "Medication",
            "id": "m1",
            "code": {"coding": [{"system": RXNORM, "code": "317136"}]},
        }
    ]
    assert fact(order).ingredients == ("nortriptyline",)


def test_medication_reference_to_a_bundled_medication() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m9",
        "code": {"coding": [{"system": RXNORM, "code": "596930"}]},
    }
    order = med(medicationReference={"reference": "Medication/m9"})
    facts = patient_facts(collect([bundle(order, medication)]))
    assert [m.ingredients for m in facts.medications] == [("duloxetine",)]


def test_medication_reference_by_full_url() -> None:
    medication = {"resourceType": "Medication", "code": {"text": "pregabalin 75 mg capsule"}}
    order = med(medicationReference={"reference": "urn:uuid:abc"})
    value = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": order}, {"fullUrl": "urn:uuid:abc", "resource": medication}],
    }
    facts = patient_facts(collect([value]))
    assert facts.medications[0].classes == {T.GABAPENTINOID}


def test_medication_reference_display_only() -> None:
    order = med(medicationReference={"display": "Desipramine 25 mg tablet"})
    assert fact(order).ingredients == ("desipramine",)


def test_compound_from_medication_ingredients_is_topical_and_not_a_systemic_tca() -> None:
    order = med(medicationReference={"reference": "#c"})
    order["contained"] = [
        {
            "resourceType": "Medication",
            "id": "c",
            "form": {"text": "cream"},
            "ingredient": [
                {"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "704"}]}},
                {"itemCodeableConcept": {"text": "ketamine"}},
            ],
        }
    ]
    found = fact(order)
    assert found.ingredients == ("amitriptyline", "ketamine")
    assert found.topical
    assert found.classes == {T.TOPICAL_COMPOUND}
    assert not found.systemic_tca


def test_topical_route_makes_amitriptyline_a_compound() -> None:
    order = med("704", dosageInstruction=[{"route": {"text": "Topical"}}])
    assert fact(order).classes == {T.TOPICAL_COMPOUND}


def test_oral_amitriptyline_is_a_systemic_tca() -> None:
    found = fact(med("856834", dosageInstruction=[{"route": {"text": "Oral"}}]))
    assert found.systemic_tca and not found.topical


def test_lidocaine_patch_is_topical_lidocaine() -> None:
    assert fact(med("1745091")).classes == {T.TOPICAL_LIDOCAINE}
    assert fact(med(text="Lidocaine 5% patch")).classes == {T.TOPICAL_LIDOCAINE}


def test_systemic_lidocaine_belongs_to_no_guideline_class() -> None:
    assert (
        fact(med("6387", dosageInstruction=[{"route": {"text": "Intravenous"}}])).classes == set()
    )


def test_transdermal_fentanyl_is_systemic() -> None:
    found = fact(med("245134"))
    assert not found.topical and found.classes == {T.OPIOID}
    assert not fact(med(text="fentanyl 25 mcg/hr transdermal patch")).topical
    assert fact(med(text="Fentanyl 25 micrograms/hour patch")).classes == {T.OPIOID}


def test_combination_opioid_product_is_an_opioid() -> None:
    assert fact(med("1049221")).classes == {T.OPIOID}


@pytest.mark.parametrize(
    ("status", "intent", "tried", "current"),
    [
        ("active", "order", True, True),
        ("on-hold", "order", True, True),
        ("completed", "order", True, False),
        ("stopped", "order", True, False),
        # GUIDELINE v2 §3: a plan is not a trial.
        ("stopped", "plan", False, False),
        ("active", "plan", False, False),
        ("cancelled", "order", False, False),
        ("entered-in-error", "order", False, False),
        ("draft", "order", False, False),
        ("active", "proposal", False, False),
        ("active", "option", False, False),
    ],
)
def test_tried_and_current(status: str, intent: str, tried: bool, current: bool) -> None:
    found = fact(med("310431", status=status, intent=intent))
    assert (found.tried, found.current) == (tried, current)


def test_medication_statements_count_too() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "483450"}]},
        "subject": {"reference": "Patient/pat-1"},
    }
    facts = patient_facts(collect([bundle(statement)]))
    assert facts.medications[0].reference == "MedicationStatement/ms1"
    assert facts.medications[0].tried


def test_a_malformed_resource_in_a_bundle_is_skipped_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = med("310431", id="broken")
    broken["dosageInstruction"] = [{"timing": {"repeat": {"frequency": "x"}}, "doseAndRate": 7}]
    broken["contained"] = "not a list"
    value = bundle(med("317136", id="fine"), broken)
    value["entry"].extend([{"resource": "text"}, {"no": "resource"}, 42])
    with caplog.at_level("WARNING"):
        found = collect([value, "not even an object"])
    assert found.skipped == 4
    assert sum("skipped" in r.message for r in caplog.records) == 4
    facts = patient_facts(found)
    assert {m.reference for m in facts.medications} == {
        "MedicationRequest/fine",
        "MedicationRequest/broken",
    }


def test_official_fhir_r4_examples_are_read_through_their_medications() -> None:
    folder = TESTDATA / "hl7-fhir-r4-examples"
    orders = [json.loads(p.read_text()) for p in sorted(folder.glob("MedicationRequest-*.json"))]
    assert len(orders) >= 30
    facts = patient_facts(collect([bundle(*orders)]))
    found = {m.reference: (m.ingredients, m.classes, m.topical) for m in facts.medications}
    # Only three official examples name a drug the guideline knows: two oral oxycodone
    # orders and a fentanyl patch, which is a systemic opioid, not a topical.
    assert found == {
        "MedicationRequest/medrx0301": (("oxycodone",), {T.OPIOID}, False),
        "MedicationRequest/medrx0333": (("oxycodone",), {T.OPIOID}, False),
        "MedicationRequest/medrx0327": (("fentanyl",), {T.OPIOID}, False),
    }
