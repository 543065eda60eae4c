"""Daily dose from dosageInstruction (GUIDELINE §4), with its arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from facts.dose import DailyDose, UnknownDose
from fhir_mappings.dose import daily_dose
from fhir_mappings.medications import medication_fact
from tests.fhir import dosage, med


def mg(dosages: list[dict[str, Any]], strength: float | None = None) -> float:
    result = daily_dose(dosages, strength)
    assert isinstance(result, DailyDose), result
    return result.mg_per_day


def line(
    quantity: dict[str, Any] | None = None, timing: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    result: dict[str, Any] = dict(extra)
    if quantity is not None:
        result["doseAndRate"] = [{"doseQuantity": quantity}]
    if timing is not None:
        result["timing"] = timing
    return result


DAILY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [(25, "mg", 25), (0.05, "g", 50), (500, "mcg", 0.5), (500, "ug", 0.5), (2, "MG", 2)],
)
def test_mass_units(value: float, unit: str, expected: float) -> None:
    assert mg([line({"value": value, "code": unit}, DAILY)]) == pytest.approx(expected)


@pytest.mark.parametrize("unit", ["{capsule}", "{tbl}", "TAB", "capsules", "tablet", "1"])
def test_count_of_tablets_times_strength(unit: str) -> None:
    assert mg([line({"value": 2, "code": unit}, DAILY)], strength=25) == 50


@pytest.mark.parametrize(
    "quantity",
    [
        # The CDS Hooks sandbox writes UCUM dose-form annotations.
        {"value": 1, "unit": "{pill}", "system": "http://unitsofmeasure.org", "code": "{pill}"},
        {"value": 1, "unit": "pill"},
        {"value": 1, "code": "{Pill}"},
        {"value": 1, "unit": "pills"},
        {"value": 1, "unit": "tablet(s)"},
        {"value": 1, "code": "{tablets}"},
        {"value": 1, "unit": "Capsule"},
        {"value": 1, "code": "{cap}"},
        {"value": 1, "unit": "ea"},
    ],
)
def test_dose_form_units_count_units_times_strength(quantity: dict[str, Any]) -> None:
    three_times_daily = {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}

    result = daily_dose([line(quantity, three_times_daily)], 25)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 75
    assert result.arithmetic == "1 × 25 mg × 3 per 1 d (3/day) = 75 mg/day"


@pytest.mark.parametrize("unit", ["{puff}", "mL", "{drop}", "pillow"])
def test_other_units_are_not_counted_as_tablets(unit: str) -> None:
    result = daily_dose([line({"value": 1, "unit": unit}, DAILY)], 25)

    assert isinstance(result, UnknownDose)
    assert "not a mass or a tablet/capsule count" in result.reason


def test_count_without_a_known_strength_is_unknown() -> None:
    result = daily_dose([line({"value": 2, "unit": "capsule"}, DAILY)], None)
    assert isinstance(result, UnknownDose)
    assert "strength is unknown" in result.reason


def test_dose_range_takes_the_high_end() -> None:
    dose_range = {
        "doseRange": {"low": {"value": 25, "code": "mg"}, "high": {"value": 50, "code": "mg"}}
    }
    assert mg([{"doseAndRate": [dose_range], "timing": DAILY}]) == 50


@pytest.mark.parametrize(
    ("code", "per_day"),
    [
        ("QD", 1),
        ("BID", 2),
        ("TID", 3),
        ("QID", 4),
        ("Q4H", 6),
        ("Q6H", 4),
        ("Q8H", 3),
        ("Q12H", 2),
        ("HS", 1),
        ("BED", 1),
        ("QOD", 0.5),
    ],
)
def test_timing_codes(code: str, per_day: float) -> None:
    timing = {
        "code": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": code}
            ]
        }
    }
    assert mg([line({"value": 10, "code": "mg"}, timing)]) == pytest.approx(10 * per_day)


def test_timing_code_as_text() -> None:
    assert mg([line({"value": 10, "code": "mg"}, {"code": {"text": "tid"}})]) == 30


@pytest.mark.parametrize(
    ("frequency", "period", "unit", "per_day"),
    [(1, 8, "h", 3), (2, 1, "d", 2), (3, 1, "wk", 3 / 7), (1, 2, "d", 0.5), (1, 30, "min", 48)],
)
def test_frequency_per_period(frequency: int, period: float, unit: str, per_day: float) -> None:
    timing = {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}}
    assert mg([line({"value": 10, "code": "mg"}, timing)]) == pytest.approx(10 * per_day)


def test_frequency_max_is_used_when_given() -> None:
    timing = {"repeat": {"frequency": 1, "frequencyMax": 3, "period": 1, "periodUnit": "d"}}
    assert mg([line({"value": 25, "code": "mg"}, timing)]) == 75


def test_when_without_frequency_counts_the_times_of_day() -> None:
    assert mg([line({"value": 10, "code": "mg"}, {"repeat": {"when": ["MORN", "HS"]}})]) == 20


def test_several_lines_are_summed() -> None:
    morning = dosage(25, "mg")
    night = dosage(50, "mg")
    result = daily_dose([morning, night], None)
    assert isinstance(result, DailyDose)
    assert result.mg_per_day == 75
    assert result.arithmetic.endswith("= 75 mg/day")


def test_lines_in_different_sequences_follow_one_another() -> None:
    # A titration: 25 mg/day for a week, then 75 mg/day. The day's dose is at most 75.
    first = dosage(25, "mg") | {"sequence": 1}
    then = dosage(25, "mg", frequency=3) | {"sequence": 2}
    assert mg([first, then]) == 75


@pytest.mark.parametrize(
    ("dosages", "reason"),
    [
        ([], "no dosage instructions"),
        ([line(None, DAILY)], "no dose quantity"),
        ([line({"value": 25, "code": "mg"})], "how often"),
        ([line({"value": 25, "code": "mL"}, DAILY)], "not a mass"),
        ([line({"code": "mg"}, DAILY)], "no value"),
        ([line({"value": 25, "code": "mg"}, {"repeat": {"frequency": 2}})], "how often"),
    ],
)
def test_what_cannot_be_worked_out_says_why(dosages: list[dict[str, Any]], reason: str) -> None:
    result = daily_dose(dosages, None)
    assert isinstance(result, UnknownDose)
    assert reason in result.reason


def test_one_unknown_line_makes_the_whole_dose_unknown() -> None:
    assert isinstance(
        daily_dose([dosage(25, "mg"), line({"value": 1, "code": "mg"})], None), UnknownDose
    )


def test_arithmetic_is_written_out() -> None:
    result = daily_dose([dosage(2, "{capsule}", frequency=3)], 25)
    assert isinstance(result, DailyDose)
    assert result.arithmetic == "2 × 25 mg × 3 per 1 d (3/day) = 150 mg/day"


def test_strength_comes_from_the_clinical_drug_code() -> None:
    fact = medication_fact(med("317136", dosages=[dosage(2, "{capsule}", frequency=3)]), {})
    assert fact is not None and isinstance(fact.dose, DailyDose)
    assert fact.dose.mg_per_day == 150


def test_strength_comes_from_text_when_there_is_no_code() -> None:
    fact = medication_fact(
        med(text="Nortriptyline 25mg cap", dosages=[dosage(1, "capsule", frequency=2)]), {}
    )
    assert fact is not None and isinstance(fact.dose, DailyDose)
    assert fact.dose.mg_per_day == 50


def test_strength_comes_from_the_medication_ingredient() -> None:
    order = med(medicationReference={"reference": "#m"}, dosages=[dosage(3, "TAB")])
    order["contained"] = [
        {
            "resourceType": "Medication",
            "id": "m",
            "ingredient": [
                {
                    "itemCodeableConcept": {"text": "desipramine"},
                    "strength": {
                        "numerator": {"value": 50, "code": "mg"},
                        "denominator": {"value": 1, "code": "TAB"},
                    },
                }
            ],
        }
    ]
    fact = medication_fact(order, {})
    assert fact is not None and isinstance(fact.dose, DailyDose)
    assert fact.dose.mg_per_day == 150
