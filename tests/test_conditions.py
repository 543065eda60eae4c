"""GUIDELINE §1 (who is in scope) and the heart and risk classes of §4."""

from __future__ import annotations

from datetime import date

import pytest

from facts.classes import ConditionClass
from facts.conditions import ConditionFact
from fhir_mappings.conditions import condition_fact, in_scope
from fhir_mappings.facts import patient_facts
from fhir_mappings.resources import collect
from guideline.findings import Severity
from guideline.heart import heart_severity
from tests.fhir import ICD10, ICD10CM, SNOMED, bundle, condition


def scoped(resource: dict) -> bool:
    fact = condition_fact(resource)
    return fact is not None and in_scope(fact)


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("G54.6", ICD10CM),
        ("G54.6", ICD10),
        ("5771000119106", SNOMED),
        ("711057003", SNOMED),
        ("711058008", SNOMED),
    ],
)
def test_phantom_limb_pain_codes_are_in_scope(code: str, system: str) -> None:
    assert scoped(condition(code, system))


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("G54.7", ICD10CM),  # phantom limb syndrome without pain
        ("G54.7", ICD10),
        ("193114000", SNOMED),  # "Phantom limb", the syndrome NOS
        ("T87.33", ICD10CM),  # stump neuroma: residual-limb pain alone
        ("G54.6", SNOMED),  # right code, wrong system
        ("G54.6", "http://example.org/local"),
    ],
)
def test_other_codes_are_out_of_scope(code: str, system: str) -> None:
    assert not scoped(condition(code, system))


@pytest.mark.parametrize("status", ["active", "recurrence", "relapse", None])
def test_live_clinical_statuses_count(status: str | None) -> None:
    assert scoped(condition("G54.6", clinical=status))


@pytest.mark.parametrize("status", ["inactive", "remission", "resolved"])
def test_ended_conditions_do_not_count(status: str) -> None:
    assert not scoped(condition("G54.6", clinical=status))


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
def test_refuted_or_erroneous_conditions_do_not_count(verification: str) -> None:
    assert not scoped(condition("G54.6", verification=verification))


@pytest.mark.parametrize("verification", ["confirmed", "provisional", "unconfirmed"])
def test_other_verification_statuses_count(verification: str) -> None:
    assert scoped(condition("G54.6", verification=verification))


@pytest.mark.parametrize(
    "text",
    ["Phantom limb pain", "phantom pain, left leg", "Phantom limb syndrome with pain"],
)
def test_text_only_phantom_limb_pain_is_in_scope(text: str) -> None:
    assert scoped(condition(text=text))


@pytest.mark.parametrize(
    "text",
    [
        "Phantom limb syndrome without pain",
        "Phantom limb pain: no pain since March",
        "Stump pain",
        "Residual limb pain",
        "Phantom limb sensation",
    ],
)
def test_text_that_is_not_phantom_limb_pain(text: str) -> None:
    assert not scoped(condition(text=text))


def test_a_recognised_code_wins_over_text() -> None:
    # G54.7 says "without pain"; text typed next to it does not override the code.
    assert not scoped(condition("G54.7", text="phantom limb pain"))


def test_text_is_read_when_the_coding_is_unknown() -> None:
    assert scoped(condition("99999999", SNOMED, text="Phantom limb pain"))


C = ConditionClass
IHD = C.ISCHAEMIC_HEART_DISEASE
MI = {C.MYOCARDIAL_INFARCTION, IHD}


@pytest.mark.parametrize(
    ("code", "system", "expected"),
    [
        ("I50.22", ICD10CM, {C.HEART_FAILURE}),
        ("I11.0", ICD10CM, {C.HEART_FAILURE}),
        ("I13.0", ICD10CM, {C.HEART_FAILURE}),
        ("I13.2", ICD10CM, {C.HEART_FAILURE}),
        ("I25.2", ICD10CM, {IHD}),  # old MI: ischaemic heart disease, not an MI to date
        ("I25.10", ICD10CM, {IHD}),
        ("I20.9", ICD10CM, {IHD}),
        ("I21.4", ICD10CM, MI),
        ("I22.9", ICD10CM, MI),
        ("I42.0", ICD10CM, {C.CARDIOMYOPATHY}),
        ("I43", ICD10CM, {C.CARDIOMYOPATHY}),
        ("I44.0", ICD10CM, {C.AV_BLOCK_FIRST_DEGREE}),
        ("I44.1", ICD10CM, {C.AV_BLOCK_SECOND_DEGREE}),
        ("I44.2", ICD10CM, {C.AV_BLOCK_HIGH_GRADE}),
        ("I44.30", ICD10CM, {C.OTHER_HEART_DISEASE}),  # AV block of unstated degree
        ("I44.7", ICD10CM, {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ("I45.10", ICD10CM, {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ("I45.4", ICD10CM, {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ("I45.6", ICD10CM, {C.PRE_EXCITATION}),
        ("I45.81", ICD10CM, {C.LONG_QT}),
        ("I45.9", ICD10CM, {C.OTHER_HEART_DISEASE}),
        ("I47.0", ICD10CM, {C.VENTRICULAR_ARRHYTHMIA}),
        ("I47.10", ICD10CM, {C.ATRIAL_ARRHYTHMIA}),
        ("I47.21", ICD10CM, {C.VENTRICULAR_ARRHYTHMIA}),
        ("I48.0", ICD10CM, {C.ATRIAL_ARRHYTHMIA}),
        ("I49.01", ICD10CM, {C.VENTRICULAR_ARRHYTHMIA}),
        ("I49.5", ICD10CM, {C.OTHER_HEART_DISEASE}),
        ("I509", ICD10CM, {C.HEART_FAILURE}),  # sent without its dot
        ("i21.4", ICD10CM, MI),  # or in lower case
        ("I47.0", ICD10, {C.VENTRICULAR_ARRHYTHMIA}),
        ("I44.3", ICD10, {C.OTHER_HEART_DISEASE}),
        ("I50.0", ICD10, {C.HEART_FAILURE}),
        ("84114007", SNOMED, {C.HEART_FAILURE}),
        ("22298006", SNOMED, MI),
        ("32574007", SNOMED, {IHD}),  # past MI diagnosed on ECG
        ("27885002", SNOMED, {C.AV_BLOCK_HIGH_GRADE}),
        ("270492004", SNOMED, {C.AV_BLOCK_FIRST_DEGREE}),
        ("442917000", SNOMED, {C.LONG_QT}),
        ("164909002", SNOMED, {C.VENTRICULAR_CONDUCTION_BLOCK}),
        ("71908006", SNOMED, {C.VENTRICULAR_ARRHYTHMIA}),
        ("282825002", SNOMED, {C.ATRIAL_ARRHYTHMIA}),
        ("I10", ICD10CM, {C.CV_RISK_FACTOR}),
        ("I11.9", ICD10CM, {C.CV_RISK_FACTOR}),  # hypertensive heart disease, no failure
        ("E11.9", ICD10CM, {C.CV_RISK_FACTOR}),
        ("E78.5", ICD10CM, {C.CV_RISK_FACTOR}),
        ("59621000", SNOMED, {C.CV_RISK_FACTOR}),
        ("F11.20", ICD10CM, {C.OPIOID_USE_DISORDER}),
        ("F11.2", ICD10, {C.OPIOID_USE_DISORDER}),
    ],
)
def test_heart_risk_and_opioid_use_disorder_classes(
    code: str, system: str, expected: set[ConditionClass]
) -> None:
    fact = condition_fact(condition(code, system))
    assert fact is not None and fact.classes == expected


@pytest.mark.parametrize("retired", ["cardiac-disease", "conduction-abnormality"])
def test_version_1_heart_classes_are_retired(retired: str) -> None:
    # Version 1's two coarse classes are gone: every cardiac code maps to a §4 finding (above),
    # and a site table naming a retired class is refused (test_terminology_tables).
    with pytest.raises(ValueError, match=retired):
        ConditionClass(retired)


def test_unrelated_conditions_carry_no_fact() -> None:
    assert condition_fact(condition("J45.909")) is None  # asthma
    assert condition_fact(condition("I95.9")) is None  # hypotension is not I50 etc.


def test_a_resolved_heart_condition_still_concerns_the_heart() -> None:
    facts = patient_facts(collect([bundle(condition("22298006", SNOMED, clinical="resolved"))]))
    assert [c.label for c in facts.heart] == ["code 22298006"]


def test_a_refuted_heart_condition_does_not() -> None:
    facts = patient_facts(collect([bundle(condition("I50.9", verification="refuted"))]))
    assert facts.heart == ()


def test_resolved_risk_factors_do_not_count() -> None:
    facts = patient_facts(collect([bundle(condition("I10", clinical="resolved"))]))
    assert facts.risk_factors == ()


def test_every_cardiac_finding_is_kept_with_its_own_class() -> None:
    facts = patient_facts(collect([bundle(condition("I50.9"), condition("I44.2"))]))
    assert [c.classes for c in facts.heart] == [{C.HEART_FAILURE}, {C.AV_BLOCK_HIGH_GRADE}]


# --- liveness: abatement, remission, dates (GUIDELINE §1) ----------------------------------

TODAY = date(2026, 11, 24)


def fact_of(resource: dict) -> ConditionFact:
    fact = condition_fact(resource, today=TODAY)
    assert fact is not None
    return fact


@pytest.mark.parametrize(
    ("abatement", "ended"),
    [
        ({"abatementDateTime": "2024-03-01"}, True),
        ({"abatementDateTime": "2026-11-24T08:00:00Z"}, True),  # today has begun
        ({"abatementDateTime": "2019"}, True),  # a partial date: its last day has passed
        ({"abatementDateTime": "2026-10"}, True),
        # This year or month may still be ahead: the Condition stays live (fhir_dates).
        ({"abatementDateTime": "2026"}, False),
        ({"abatementDateTime": "2026-11"}, False),
        ({"abatementPeriod": {"start": "2026-11"}}, False),
        ({"abatementDateTime": "2027-01-15"}, False),  # planned, in the future
        ({"abatementDateTime": "not a date"}, True),  # present, so it has abated
        ({"abatementPeriod": {"start": "2020-01-01", "end": "2021-06-30"}}, True),
        ({"abatementPeriod": {"start": "2026-12-01", "end": "2027-01-01"}}, False),
        ({"abatementPeriod": {"start": "2025-01-01"}}, True),
        ({"abatementAge": {"value": 40, "unit": "a", "system": "http://unitsofmeasure.org"}}, True),
        ({"abatementRange": {"low": {"value": 30, "unit": "a"}}}, True),
        ({"abatementString": "in childhood"}, True),
        ({"abatementBoolean": True}, True),  # FHIR STU3
        ({"abatementBoolean": False}, False),
        ({}, False),
    ],
)
def test_a_past_abatement_ends_a_condition(abatement: dict, ended: bool) -> None:
    fact = fact_of({**condition("G54.6", clinical=None), **abatement})
    assert (fact.ended, fact.live, in_scope(fact)) == (ended, not ended, not ended)


def test_a_past_abatement_ends_even_an_active_status() -> None:
    fact = fact_of({**condition("G54.6", clinical="active"), "abatementDateTime": "2020-01-01"})
    assert fact.ended and not fact.live


@pytest.mark.parametrize(
    ("code", "clinical", "live", "remission"),
    [
        ("F11.20", "active", True, False),
        ("F11.21", "active", True, True),  # the code says in remission
        ("F11.21", None, True, True),
        ("F11.20", "remission", False, True),  # the status says so
        ("F11.21", "resolved", False, False),  # a resolved status outweighs the code
        ("G54.6", "remission", False, True),
    ],
)
def test_remission(code: str, clinical: str | None, live: bool, remission: bool) -> None:
    fact = fact_of(condition(code, clinical=clinical))
    assert (fact.live, fact.remission) == (live, remission)


def test_onset_and_recorded_dates() -> None:
    fact = fact_of(
        {
            **condition("I21.4"),
            "onsetDateTime": "2026-11-10T14:30:00Z",
            "recordedDate": "2026-11-11",
        }
    )
    assert (fact.onset, fact.recorded) == (date(2026, 11, 10), date(2026, 11, 11))
    assert fact_of(condition("I21.4")).onset is None


@pytest.mark.parametrize(
    ("dates", "onset", "recorded"),
    [
        # Read only for an MI's recency: a partial date is the latest day it may be.
        ({"onsetDateTime": "2026-10"}, date(2026, 10, 31), None),
        ({"onsetDateTime": "2026"}, date(2026, 12, 31), None),
        ({"onsetPeriod": {"start": "2026-10"}}, date(2026, 10, 31), None),
        ({"onsetPeriod": {"start": "2026-09-01", "end": "2026-10-15"}}, date(2026, 10, 15), None),
        ({"recordedDate": "2026-02"}, None, date(2026, 2, 28)),
    ],
)
def test_partial_onset_and_recorded_dates_are_their_last_day(
    dates: dict, onset: date | None, recorded: date | None
) -> None:
    fact = fact_of({**condition("I21.4"), **dates})
    assert (fact.onset, fact.recorded) == (onset, recorded)


def test_an_mi_dated_by_month_alone_may_be_acute() -> None:
    # GUIDELINE §4: an MI within 30 days is critical. On 24 November an MI of "2026-10" may
    # be 24 days old (31 October) or 54 (1 October): the cautious reading is the acute one.
    october = fact_of({**condition("I21.4"), "onsetDateTime": "2026-10"})
    september = fact_of({**condition("I21.4"), "onsetDateTime": "2026-09"})
    assert heart_severity((october,), TODAY) is Severity.CRITICAL
    assert heart_severity((september,), TODAY) is Severity.WARNING


def test_opioid_use_disorder_in_the_patient_facts() -> None:
    chart = collect(
        [
            bundle(
                condition("F11.20", id="active"),
                condition("F11.21", id="remission-code"),
                condition("F11.20", clinical="remission", id="remission-status"),
                condition("F11.20", clinical="resolved", id="resolved"),
                {**condition("F11.20", clinical=None, id="abated"), "abatementDateTime": "2020"},
                condition(text="Opioid use disorder", verification="refuted", id="refuted"),
                condition(text="OUD on methadone", id="text"),
            )
        ]
    )
    facts = patient_facts(chart, today=TODAY)
    assert [c.reference for c in facts.opioid_use_disorder] == [
        "Condition/active",
        "Condition/remission-code",
        "Condition/remission-status",
        "Condition/text",
    ]


def test_a_past_mi_stays_a_heart_fact_with_its_liveness() -> None:
    # GUIDELINE §1: a past MI keeps counting as ischaemic heart disease; every heart finding
    # reaches the guideline with its liveness, for the guideline to weigh.
    abated = {**condition("I21.4", clinical="resolved", id="mi"), "abatementDateTime": "2019"}
    facts = patient_facts(collect([bundle(abated)]), today=TODAY)
    assert [(c.reference, c.live, c.ended) for c in facts.heart] == [("Condition/mi", False, True)]


def test_allergies_reach_the_patient_facts() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "code": {"text": "Cymbalta"},
    }
    unrelated = {"resourceType": "AllergyIntolerance", "id": "a2", "code": {"text": "Latex"}}
    facts = patient_facts(collect([bundle(allergy, unrelated)]))
    assert [(a.reference, a.ingredients) for a in facts.allergies] == [
        ("AllergyIntolerance/a1", {"duloxetine"})
    ]


def test_a_condition_read_before_is_read_afresh_when_anything_changes() -> None:
    """Conditions the guideline reads are cached by their whole JSON and the day: any change
    to the Condition, or a new day, is a new reading, never the last call's fact."""
    first = condition("I50.9", id="hf")
    read = condition_fact(first, today=date(2026, 11, 24))
    assert read is not None and read.live and ConditionClass.HEART_FAILURE in read.classes
    resolved = condition_fact(
        first | {"clinicalStatus": condition("I50.9", clinical="resolved")["clinicalStatus"]}
    )
    assert resolved is not None and not resolved.live
    refuted = condition("I50.9", verification="refuted")["verificationStatus"]
    assert condition_fact(first | {"verificationStatus": refuted}) is None
    other = condition_fact(first | {"code": {"text": "phantom limb pain"}})
    assert other is not None and in_scope(other)
    onset = condition_fact(first | {"onsetDateTime": "2026-01-02"})
    assert onset is not None and onset.onset == date(2026, 1, 2)
    abating = first | {"abatementDateTime": "2026-12-01"}
    before = condition_fact(abating, today=date(2026, 11, 30))
    after = condition_fact(abating, today=date(2026, 12, 2))
    assert before is not None and before.live and not before.ended
    assert after is not None and not after.live and after.ended
    # And the Condition as it first was still reads as it did.
    assert condition_fact(first, today=date(2026, 11, 24)) == read


def test_a_condition_that_is_not_plain_json_is_still_read() -> None:
    """A Condition the cache cannot key (a library caller's Python values) is read without
    it, not skipped: skipping it could hide heart disease."""
    heart = condition("I50.9", id="hf-ext")
    heart["extension"] = [{"url": "http://example.org/big", "valueInteger": 2**70}]
    read = condition_fact(heart)
    assert read is not None and ConditionClass.HEART_FAILURE in read.classes


def test_a_huge_condition_is_read_but_not_kept() -> None:
    from fhir_mappings import conditions

    heart = condition("I50.9", id="hf-big") | {"note": [{"text": "n" * 20_000}]}
    # Misses count every call that reached the cache, so this holds when the cache is full.
    before = conditions._condition_fact.cache_info().misses
    read = condition_fact(heart)
    assert read is not None and ConditionClass.HEART_FAILURE in read.classes
    assert conditions._condition_fact.cache_info().misses == before
    assert condition_fact(condition("I50.9", id="hf-small")) is not None
    assert conditions._condition_fact.cache_info().misses == before + 1
