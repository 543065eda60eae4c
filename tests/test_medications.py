"""Medication identity, class, route and status (GUIDELINE §2, §3)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from facts.classes import TherapyClass
from facts.dose import DailyDose
from facts.medications import MedicationFact
from fhir_mappings.facts import patient_facts
from fhir_mappings.medications import medication_fact
from fhir_mappings.resources import collect
from tests.conftest import TESTDATA
from tests.fhir import ATC, RXNORM, bundle, dosage, med

T = TherapyClass


def fact(order: dict[str, Any], bundled: dict[str, Any] | None = None) -> MedicationFact:
    result = medication_fact(order, bundled or {})
    assert result is not None
    return result


G, TCA, SNRI, OPIOID = T.GABAPENTINOID, T.TCA, T.SNRI, T.OPIOID

# terminology.md §2b, every clinical drug, with the ingredient and strength its RxNorm name
# states: one tablet or capsule a day is that many mg a day.
ORAL_UNIT_DOSES = [
    ("310430", "gabapentin", G, 100),
    ("310431", "gabapentin", G, 300),
    ("310432", "gabapentin", G, 400),
    ("310433", "gabapentin", G, 600),
    ("310434", "gabapentin", G, 800),
    ("483448", "pregabalin", G, 50),
    ("483450", "pregabalin", G, 75),
    ("483438", "pregabalin", G, 100),
    ("483440", "pregabalin", G, 150),
    ("483444", "pregabalin", G, 300),
    ("198045", "nortriptyline", TCA, 10),
    ("317136", "nortriptyline", TCA, 25),
    ("198046", "nortriptyline", TCA, 50),
    ("1099288", "desipramine", TCA, 10),
    ("1099300", "desipramine", TCA, 25),
    ("1099304", "desipramine", TCA, 50),
    ("856783", "amitriptyline", TCA, 10),
    ("856834", "amitriptyline", TCA, 25),
    ("856845", "amitriptyline", TCA, 50),
    ("596926", "duloxetine", SNRI, 20),
    ("596930", "duloxetine", SNRI, 30),
    ("596934", "duloxetine", SNRI, 60),
    ("313583", "venlafaxine", SNRI, 37.5),
    ("313585", "venlafaxine", SNRI, 75),
    ("313581", "venlafaxine", SNRI, 150),
    ("313586", "venlafaxine", SNRI, 75),
    ("892582", "morphine", OPIOID, 15),
    ("892672", "morphine", OPIOID, 30),
    ("891881", "morphine", OPIOID, 15),
    ("891888", "morphine", OPIOID, 30),
    ("1049621", "oxycodone", OPIOID, 5),
    ("1049683", "oxycodone", OPIOID, 10),
    ("1049502", "oxycodone", OPIOID, 10),
    ("1049221", "oxycodone", OPIOID, 5),  # with acetaminophen 325 mg
    ("857002", "hydrocodone", OPIOID, 5),  # with acetaminophen 325 mg
    ("856999", "hydrocodone", OPIOID, 10),  # with acetaminophen 325 mg
    ("897696", "hydromorphone", OPIOID, 2),
    ("897702", "hydromorphone", OPIOID, 4),
    ("864718", "methadone", OPIOID, 5),
    ("864706", "methadone", OPIOID, 10),
    ("835603", "tramadol", OPIOID, 50),
    ("833709", "tramadol", OPIOID, 100),
    ("825411", "tapentadol", OPIOID, 50),
    ("825409", "tapentadol", OPIOID, 100),
    ("977939", "oxymorphone", OPIOID, 5),
    ("977942", "oxymorphone", OPIOID, 10),
    ("997170", "codeine", OPIOID, 15),
    ("997287", "codeine", OPIOID, 30),
    ("993781", "codeine", OPIOID, 30),  # with acetaminophen 300 mg
    ("351264", "buprenorphine", OPIOID, 2),
    ("351265", "buprenorphine", OPIOID, 8),
]


@pytest.mark.parametrize(("rxcui", "ingredient", "therapy_class", "mg"), ORAL_UNIT_DOSES)
def test_every_clinical_drug_is_identified_with_its_strength(
    rxcui: str, ingredient: str, therapy_class: T, mg: float
) -> None:
    found = fact(med(rxcui, dosages=[dosage(1, "{tbl}")]))
    assert found.ingredients == (ingredient,)
    assert found.classes == {therapy_class}
    assert not found.topical
    assert isinstance(found.dose, DailyDose) and found.dose.mg_per_day == mg


@pytest.mark.parametrize(
    ("rxcui", "ingredient", "therapy_class", "topical"),
    [
        ("283523", "gabapentin", G, False),  # 50 mg/mL oral solution
        ("1745091", "lidocaine", T.TOPICAL_LIDOCAINE, True),  # 5% patch
        ("1011705", "lidocaine", T.TOPICAL_LIDOCAINE, True),  # Lidoderm
        ("577057", "fentanyl", OPIOID, False),  # transdermal systems are systemic
        ("245134", "fentanyl", OPIOID, False),
        ("245135", "fentanyl", OPIOID, False),
        ("904880", "buprenorphine", OPIOID, False),
        ("904870", "buprenorphine", OPIOID, False),
        ("904876", "buprenorphine", OPIOID, False),
    ],
)
def test_clinical_drugs_that_are_not_tablets(
    rxcui: str, ingredient: str, therapy_class: T, topical: bool
) -> None:
    found = fact(med(rxcui))
    assert found.ingredients == (ingredient,)
    assert found.classes == {therapy_class}
    assert found.topical is topical


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
    ("words", "mg_per_day"),
    [
        ("Nortriptyline 25mg cap", 50),
        ("Gabapentin 0.3 g capsule", 600),  # the mass units of dose_units.csv, in words
        ("Gabapentin 300000 mcg capsule", 600),
        ("Gabapentin 300000 µg capsule", 600),
        ("Gabapentin 300000 UG capsule", 600),
    ],
)
def test_a_strength_in_words_gives_a_count_its_mg(words: str, mg_per_day: float) -> None:
    found = fact(med(text=words, dosages=[dosage(1, "{capsule}", frequency=2)]))
    assert isinstance(found.dose, DailyDose) and found.dose.mg_per_day == mg_per_day


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
    # Read once when the fact is made: a copy with another status or intent reads afresh.
    other = fact(med("310431", status="active", intent="order"))
    copied = dataclasses.replace(other, status=status, intent=intent)
    assert (copied.tried, copied.current) == (tried, current)


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
    # Five official examples name a drug the guideline knows: two oral oxycodone orders, a
    # fentanyl patch (a systemic opioid, not a topical), and two by brand alone: a contained
    # Medication coded by NDC with the display "Percocet tablet" and an RxNorm code the
    # tables do not list, "Vicodin 5/500 Oral Tablet" (GUIDELINE §6: a code the tables do not
    # know falls back to its display).
    assert found == {
        "MedicationRequest/medrx0301": (("oxycodone",), {T.OPIOID}, False),
        "MedicationRequest/medrx0333": (("oxycodone",), {T.OPIOID}, False),
        "MedicationRequest/medrx0327": (("fentanyl",), {T.OPIOID}, False),
        "MedicationRequest/medrx0307": (("oxycodone",), {T.OPIOID}, False),
        "MedicationRequest/medrx0308": (("hydrocodone",), {T.OPIOID}, False),
    }


def test_an_order_seen_before_is_read_again_when_anything_in_it_changed() -> None:
    """The fact of an order already read is reused (issue 15): the same order with another
    status, dose, date or drug must never be answered with the fact of the order as it was."""
    order = med(
        "317136",  # nortriptyline 25 MG Oral Capsule
        id="nt",
        authored="2026-01-01",
        dosages=[dosage(1, "{capsule}", frequency=3)],
    )
    first = fact(order)
    assert fact(json.loads(json.dumps(order))) == first
    assert isinstance(first.dose, DailyDose)
    assert first.dose.mg_per_day == 75
    assert first.current
    assert first.in_use is not None and first.in_use.start is not None
    assert first.in_use.start.isoformat() == "2026-01-01"

    stopped = fact(order | {"status": "stopped"})
    assert stopped.status == "stopped" and not stopped.current
    higher = fact(order | {"dosageInstruction": [dosage(2, "{capsule}", frequency=3)]})
    assert isinstance(higher.dose, DailyDose) and higher.dose.mg_per_day == 150
    later = fact(order | {"authoredOn": "2026-06-01"})
    assert later.in_use is not None and later.in_use.start is not None
    assert later.in_use.start.isoformat() == "2026-06-01"
    other_drug = fact(order | {"medicationCodeableConcept": {"text": "amitriptyline 25 mg"}})
    assert other_drug.ingredients == ("amitriptyline",)
    # And the order as it first was still reads as it did.
    assert fact(order) == first


def test_an_order_that_is_not_plain_json_is_still_read() -> None:
    """An order the cache cannot key (a library caller's Python values, not JSON from a
    request) is read without it, not skipped: skipping it could hide a TCA."""
    order = med("317136", id="nt", dosages=[dosage(1, "{capsule}", frequency=2)])
    order["extension"] = [{"url": "http://example.org/big", "valueInteger": 2**70}]
    read = fact(order)
    assert read.ingredients == ("nortriptyline",)
    assert isinstance(read.dose, DailyDose) and read.dose.mg_per_day == 50


def test_huge_concepts_and_orders_are_read_but_not_kept() -> None:
    """The content-keyed caches keep small keys only: a caller sending orders of a megabyte
    each cannot make a worker hold thousands of them (issue 13's memory bounds)."""
    from fhir_mappings import conditions, medications

    padding = [{"system": "http://example.org/local", "code": f"x{i}"} for i in range(400)]
    order = med(
        "317136",
        id="big",
        dosages=[dosage(1, "{capsule}", frequency=3)],
        note=[{"text": "n" * 20_000}],
    )
    order["medicationCodeableConcept"]["coding"].extend(padding)
    caches = (medications._identify_concept, medications._order_fact, conditions._recognise)
    # Every call that reaches a cache counts as a hit or a miss, whether or not it is full.
    before = [reached(c) for c in caches]
    read = fact(order)
    assert read.ingredients == ("nortriptyline",)
    assert isinstance(read.dose, DailyDose) and read.dose.mg_per_day == 75
    heart = {"coding": [{"system": "http://snomed.info/sct", "code": "84114007"}, *padding]}
    assert conditions.recognise(heart).classes
    assert [reached(c) for c in caches] == before
    # The same order and concept without the padding do reach them.
    assert fact(med("317136", id="small", dosages=[dosage(1, "{capsule}", frequency=3)]))
    assert conditions.recognise({"coding": heart["coding"][:1]}).classes
    assert all(after > was for after, was in zip([reached(c) for c in caches], before, strict=True))


def reached(cache: Any) -> int:
    info = cache.cache_info()
    return int(info.hits + info.misses)
