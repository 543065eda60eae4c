"""GUIDELINE §1 (who is in scope) and the heart and risk classes of §4."""

from __future__ import annotations

import pytest

from facts.classes import ConditionClass
from fhir_mappings.conditions import condition_fact, in_scope
from fhir_mappings.facts import patient_facts
from fhir_mappings.resources import collect
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


@pytest.mark.parametrize(
    ("code", "system", "expected"),
    [
        ("I50.22", ICD10CM, ConditionClass.CARDIAC_DISEASE),
        ("I25.2", ICD10CM, ConditionClass.CARDIAC_DISEASE),
        ("I21.4", ICD10CM, ConditionClass.CARDIAC_DISEASE),
        ("I47.21", ICD10CM, ConditionClass.CARDIAC_DISEASE),
        ("I49.01", ICD10CM, ConditionClass.CARDIAC_DISEASE),
        ("I47.0", ICD10, ConditionClass.CARDIAC_DISEASE),
        ("84114007", SNOMED, ConditionClass.CARDIAC_DISEASE),
        ("I44.2", ICD10CM, ConditionClass.CONDUCTION_ABNORMALITY),
        ("I45.81", ICD10CM, ConditionClass.CONDUCTION_ABNORMALITY),
        ("I45.10", ICD10CM, ConditionClass.CONDUCTION_ABNORMALITY),
        ("27885002", SNOMED, ConditionClass.CONDUCTION_ABNORMALITY),
        ("442917000", SNOMED, ConditionClass.CONDUCTION_ABNORMALITY),
        ("I10", ICD10CM, ConditionClass.CV_RISK_FACTOR),
        ("E11.9", ICD10CM, ConditionClass.CV_RISK_FACTOR),
        ("E78.5", ICD10CM, ConditionClass.CV_RISK_FACTOR),
        ("59621000", SNOMED, ConditionClass.CV_RISK_FACTOR),
    ],
)
def test_heart_and_risk_classes(code: str, system: str, expected: ConditionClass) -> None:
    fact = condition_fact(condition(code, system))
    assert fact is not None and fact.classes == {expected}


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


def test_conduction_abnormalities_are_picked_out_of_heart_conditions() -> None:
    facts = patient_facts(collect([bundle(condition("I50.9"), condition("I44.2"))]))
    assert len(facts.heart) == 2
    assert [c.classes for c in facts.conduction] == [{ConditionClass.CONDUCTION_ABNORMALITY}]
