"""Pain scores from Observations (GUIDELINE §3 "Response", terminology.md §3d)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from facts.observations import PainScore
from fhir_mappings.facts import patient_facts
from fhir_mappings.observations import pain_score, pain_scores
from fhir_mappings.resources import collect
from tests.conftest import TESTDATA
from tests.fhir import bundle, next_id, plp

LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def observation(
    code: str = "72514-3",
    *,
    status: str | None = "final",
    category: str | None = "survey",
    system: str = LOINC,
    when: str | None = "2026-10-01T09:30:00Z",
    **fields: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": next_id("obs"),
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/pat-1"},
    }
    if status is not None:
        resource["status"] = status
    if category is not None:
        resource["category"] = [{"coding": [{"system": CATEGORY, "code": category}]}]
    if when is not None:
        resource["effectiveDateTime"] = when
    if not any(name.startswith("value") or name == "dataAbsentReason" for name in fields):
        resource["valueQuantity"] = {"value": 6, "unit": "{score}", "code": "{score}"}
    resource.update(fields)
    return resource


def score(resource: dict[str, Any]) -> PainScore:
    result = pain_score(resource)
    assert result is not None
    return result


# -- by code, not by category ---------------------------------------------------------------


@pytest.mark.parametrize("category", ["survey", "vital-signs", "exam", None])
@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("72514-3", "Pain severity 0-10 (reported)"),
        ("38208-5", "Pain severity (reported)"),
        ("38214-3", "Pain severity, visual analogue score"),
    ],
)
def test_read_by_code_under_any_category(category: str | None, code: str, label: str) -> None:
    resource = observation(code, category=category)

    assert score(resource) == PainScore(
        reference=f"Observation/{resource['id']}",
        label=label,
        value=6.0,
        unit=None,
        when=date(2026, 10, 1),
        preliminary=False,
    )


def test_the_code_may_be_one_coding_among_several() -> None:
    resource = observation()
    resource["code"]["coding"].insert(0, {"system": "http://example.org/local", "code": "PAIN"})
    assert score(resource).label == "Pain severity 0-10 (reported)"


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("77565-0", LOINC),  # pain interference: not an intensity score
        ("8867-4", LOINC),  # heart rate, filed under vital-signs like many pain scores
        ("72514-3", "http://snomed.info/sct"),  # the right code in the wrong system
    ],
)
def test_other_codes_are_not_pain_scores(code: str, system: str) -> None:
    assert pain_score(observation(code, system=system, category="vital-signs")) is None


# -- statuses (GUIDELINE §3) ----------------------------------------------------------------


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_statuses_that_count(status: str) -> None:
    assert score(observation(status=status)).preliminary is False


def test_a_preliminary_score_is_kept_and_marked() -> None:
    assert score(observation(status="preliminary")).preliminary is True


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered", "unknown", None])
def test_other_statuses_are_left_out(status: str | None) -> None:
    assert pain_score(observation(status=status)) is None


# -- value and date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "unit"),
    [
        ({"valueQuantity": {"value": 7, "unit": "{score}"}}, 7.0, None),
        ({"valueQuantity": {"value": 7, "code": "1"}}, 7.0, None),
        ({"valueQuantity": {"value": 42, "unit": "mm", "code": "mm"}}, 42.0, "mm"),
        ({"valueQuantity": {"value": 3.5}}, 3.5, None),
        ({"valueInteger": 8}, 8.0, None),
        ({"valueString": " 4 "}, 4.0, None),
        ({"valueString": "4.5"}, 4.5, None),
    ],
)
def test_numeric_values(value: dict[str, Any], expected: float, unit: str | None) -> None:
    result = score(observation(**value))
    assert (result.value, result.unit) == (expected, unit)


@pytest.mark.parametrize(
    "value",
    [
        {"valueString": "severe"},
        {"valueString": "7/10"},
        {"valueInteger": True},
        {"valueQuantity": {"unit": "{score}"}},
        {"valueCodeableConcept": {"text": "moderate"}},
        {"dataAbsentReason": {"text": "asked, declined"}},
    ],
)
def test_no_numeric_value_no_score(value: dict[str, Any]) -> None:
    assert pain_score(observation(**value)) is None


def test_the_date_comes_from_effective_then_issued() -> None:
    period = observation(when=None, effectivePeriod={"start": "2026-09-02T10:00:00Z"})
    instant = observation(when=None, effectiveInstant="2026-09-03T10:00:00.123Z")
    issued = observation(when=None, issued="2026-09-04T10:00:00Z")
    both = observation(when="2026-09-05", issued="2026-09-06T10:00:00Z")

    assert [score(r).when for r in (period, instant, issued, both)] == [
        date(2026, 9, 2),
        date(2026, 9, 3),
        date(2026, 9, 4),
        date(2026, 9, 5),
    ]


def test_a_score_without_a_date_is_left_out() -> None:
    assert pain_score(observation(when=None)) is None


# -- the list -------------------------------------------------------------------------------


def test_most_recent_first_whatever_order_they_arrive_in() -> None:
    resources = [
        observation(when="2026-03-01", valueInteger=7),
        observation(when="2026-10-01", valueInteger=3),
        observation(when="2026-06-15T23:59:00-05:00", valueInteger=5),
        observation(when="2026-08-01", status="entered-in-error", valueInteger=9),
    ]

    scores = pain_scores(resources)

    assert [(s.when, s.value) for s in scores] == [
        (date(2026, 10, 1), 3.0),
        (date(2026, 6, 15), 5.0),
        (date(2026, 3, 1), 7.0),
    ]


def test_a_score_with_a_malformed_date_is_skipped_not_fatal() -> None:
    broken = observation()
    broken["effectiveDateTime"] = 20261001  # not a string
    assert pain_scores([broken, observation(valueInteger=2)])[0].value == 2.0


# -- PatientFacts.pain_scores: a tuple when obtained, None when not ----------------------------


def test_obtained_scores_are_a_tuple_even_when_empty() -> None:
    facts = patient_facts(collect([bundle(plp()), bundle()]))
    assert facts.pain_scores == ()


def test_scores_that_could_not_be_obtained_are_none() -> None:
    facts = patient_facts(collect([bundle(plp())]), pain_scores_obtained=False)
    assert facts.pain_scores is None


def test_scores_reach_the_patient_facts() -> None:
    record = collect([bundle(plp()), bundle(observation(when="2026-10-01", valueInteger=4))])
    facts = patient_facts(record)
    assert facts.pain_scores is not None
    assert [s.value for s in facts.pain_scores] == [4.0]


def test_allergies_that_could_not_be_obtained_are_said_to_be_unavailable() -> None:
    assert patient_facts(collect([bundle(plp())])).allergies_available is True
    unavailable = patient_facts(collect([bundle(plp())]), allergies_obtained=False)
    assert unavailable.allergies_available is False


def test_synthea_pain_scores_filed_as_vital_signs() -> None:
    # Synthea writes 72514-3 under category vital-signs with the unit {score}.
    chart = json.loads(
        (
            TESTDATA
            / "synthea-r4-bundles"
            / "Dirk_Kuhlman_1e503533-b8c2-42cb-a6d5-bbd7d70d07ad.json"
        ).read_text()
    )

    scores = patient_facts(collect([chart])).pain_scores

    assert scores is not None
    assert len(scores) == 11
    assert scores[0].when == date(2021, 3, 2)
    assert scores[-1].when < scores[0].when
    assert all(s.unit is None and 0 <= s.value <= 10 and not s.preliminary for s in scores)
