"""Daily dose from dosageInstruction (GUIDELINE §4), with its arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from facts.dose import DailyDose, DoseGap, UnknownDose
from fhir_mappings.dose import daily_dose
from fhir_mappings.medications import medication_fact
from tests.fhir import RXNORM, dosage, med


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
    assert "{" not in result.reason  # an annotation is shown as its word


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (2, "capsule", "2 capsules"),
        (1, "{tbl}", "1 tablet"),
        (1, "{pill}", "1 tablet/capsule"),
        (3, "{pill}", "3 tablets/capsules"),
        (2, "TABLET, FILM COATED", "2 tablets"),
        (2, "{each}", "2 units"),
    ],
)
def test_count_without_a_known_strength_is_unknown(value: int, unit: str, shown: str) -> None:
    # A clinician reads "tablet", never the UCUM annotation "{pill}"; and the gap is the
    # strength, not a dose still to be written.
    result = daily_dose([line({"value": value, "unit": unit, "code": unit}, DAILY)], None)
    assert isinstance(result, UnknownDose)
    assert result.reason == (
        f"dose quantity is {shown}, and the product's strength could not be read"
    )
    assert result.gap is DoseGap.STRENGTH
    assert "{" not in result.reason


@pytest.mark.parametrize(
    ("dosage", "gap"),
    [
        (None, DoseGap.NOT_WRITTEN),
        (
            [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}],
            DoseGap.NOT_WRITTEN,
        ),
        ([line({"value": 25, "code": "mg"}, {})], DoseGap.NOT_WRITTEN),
        ([dosage(25, "mg"), line({"value": 1, "code": "{tbl}"}, DAILY)], DoseGap.STRENGTH),
        ([line({"value": 1, "unit": "{puff}"}, DAILY)], DoseGap.UNREADABLE),
    ],
)
def test_what_keeps_the_dose_from_being_worked_out(dosage: Any, gap: DoseGap) -> None:
    result = daily_dose(dosage, None)
    assert isinstance(result, UnknownDose)
    assert result.gap is gap


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


def test_a_strength_written_in_both_the_text_and_the_display_is_read() -> None:
    # The CDS Hooks sandbox, like most EHRs, sends the same name as text and display; an
    # RxNorm code the tables do not list leaves the strength to the words.
    name = "nortriptyline 75 MG Oral Capsule"
    order = med(text=name, dosages=[dosage(2, "{pill}", frequency=2)])
    order["medicationCodeableConcept"]["coding"] = [
        {"system": RXNORM, "code": "0000000", "display": name}
    ]
    fact = medication_fact(order, {})
    assert fact is not None and isinstance(fact.dose, DailyDose)
    assert fact.dose.mg_per_day == 300


def test_two_different_strengths_in_the_words_are_not_guessed() -> None:
    order = med(text="nortriptyline 10 mg or 25 mg capsule", dosages=[dosage(1, "capsule")])
    fact = medication_fact(order, {})
    assert fact is not None and isinstance(fact.dose, UnknownDose)


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


# -- dose-form units (GUIDELINE §4: UCUM annotations count as units × strength) ----------


@pytest.mark.parametrize(
    "quantity",
    [
        {"value": 2, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tbl}"},
        {"value": 2, "unit": "tablet", "system": "http://unitsofmeasure.org", "code": "{tablet}"},
        {"value": 2, "system": "http://unitsofmeasure.org", "code": "{Tablet}"},
        {"value": 2, "system": "http://unitsofmeasure.org", "code": "{capsule}"},
        {"value": 2, "system": "http://unitsofmeasure.org", "code": "{Capsule}"},
        {"value": 2, "system": "http://unitsofmeasure.org", "code": "{cap}"},
        {"value": 2, "system": "http://unitsofmeasure.org", "code": "{pill}"},
        {"value": 2, "unit": "TABLET, FILM COATED"},
        {"value": 2, "unit": "Capsule(s)"},
        {"value": 2, "unit": "caplets"},
        # A unit coded in a system the tables do not read: its text still says "tablet".
        {"value": 2, "unit": "Tablet", "system": "http://example.org/units", "code": "T-77"},
    ],
)
def test_dose_form_annotations_and_ehr_spellings(quantity: dict[str, Any]) -> None:
    result = daily_dose([line(quantity, DAILY)], 25)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 50
    assert result.arithmetic == "2 × 25 mg × 1 per 1 d (1/day) = 50 mg/day"


def test_an_unknown_unit_names_both_its_code_and_its_text() -> None:
    result = daily_dose([line({"value": 5, "unit": "milliliter", "code": "mL"}, DAILY)], 25)

    assert isinstance(result, UnknownDose)
    assert (
        result.reason
        == "dose quantity unit 'mL / milliliter' is not a mass or a tablet/capsule count"
    )


def test_exactly_100_mg_a_day_is_100_and_90_is_90() -> None:
    # GUIDELINE §4 flags at or above 100: the arithmetic must land on 100, not a hair under.
    four_times_daily = {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}}
    assert mg([line({"value": 1, "code": "{tbl}"}, four_times_daily)], 25) == 100
    assert mg([line({"value": 3, "code": "{capsule}"}, DAILY)], 30) == 90
    hourly = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "h"}}
    # 1 / (1/24) is 24.000000000000004 in binary floating point; the dose is rounded.
    assert mg([line({"value": 10, "code": "mg"}, hourly)]) == 240


# -- as needed (GUIDELINE §4: the larger of the scheduled and the maximum day) --------------


def prn(
    quantity: dict[str, Any] | None = None,
    timing: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return line(quantity, timing, asNeededBoolean=True, **extra)


def per_period(numerator: dict[str, Any], value: float, unit: str) -> dict[str, Any]:
    return {"numerator": numerator, "denominator": {"value": value, "code": unit}}


NIGHTLY = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["HS"]}}


def test_prn_maximum_above_the_schedule_is_counted() -> None:
    result = daily_dose(
        [
            prn(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                maxDosePerPeriod=per_period({"value": 150, "code": "mg"}, 1, "d"),
            )
        ],
        None,
    )

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 150
    assert result.as_needed_maximum
    assert result.arithmetic == (
        "as needed: scheduled 25 mg × 1 per 1 d (1/day) = 25 mg/day; "
        "maximum 150 mg per 1 d = 150 mg/day; the larger, the maximum, is counted"
    )


def test_prn_maximum_in_tablets_per_hours() -> None:
    # At most 2 tablets in any 8 hours: 6 tablets of 25 mg a day.
    maximum = per_period({"value": 2, "code": "{tbl}"}, 8, "h")
    result = daily_dose([prn({"value": 1, "code": "{tbl}"}, maxDosePerPeriod=maximum)], 25)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 150
    assert result.arithmetic == (
        "as needed, at most 2 × 25 mg per 8 h = 150 mg/day (the maximum is counted)"
    )


def test_prn_schedule_above_the_maximum_is_counted() -> None:
    four_times_daily = {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}}
    maximum = per_period({"value": 100, "code": "mg"}, 1, "d")
    result = daily_dose(
        [prn({"value": 50, "code": "mg"}, four_times_daily, maxDosePerPeriod=maximum)], None
    )

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 200
    assert not result.as_needed_maximum
    assert result.arithmetic.endswith("the larger, the schedule, is counted")


def test_prn_maximum_per_administration_times_the_most_frequent_timing() -> None:
    # "1 tablet every 4 to 6 hours as needed, at most 2 at a time": 2 × 25 mg every 4 hours.
    every_4_to_6_hours = {"repeat": {"period": 4, "periodMax": 6, "periodUnit": "h"}}
    result = daily_dose(
        [
            prn(
                {"value": 1, "code": "{tbl}"},
                every_4_to_6_hours,
                maxDosePerAdministration={"value": 2, "code": "{tbl}"},
            )
        ],
        25,
    )

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 300
    assert "maximum 2 × 25 mg per dose × 1 per 4 h (6/day) = 300 mg/day" in result.arithmetic


def test_several_maxima_all_apply() -> None:
    # R5 allows several maxDosePerPeriod: the day is bounded by the tightest.
    maxima = [
        per_period({"value": 150, "code": "mg"}, 1, "d"),
        per_period({"value": 50, "code": "mg"}, 8, "h"),
    ]
    result = daily_dose([prn({"value": 25, "code": "mg"}, NIGHTLY, maxDosePerPeriod=maxima)], None)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 150


def test_as_needed_codeable_concept_is_as_needed() -> None:
    result = daily_dose(
        [
            line(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                asNeededCodeableConcept={"text": "pain"},
                maxDosePerPeriod=per_period({"value": 150, "code": "mg"}, 1, "d"),
            )
        ],
        None,
    )

    assert isinstance(result, DailyDose) and result.mg_per_day == 150


def test_a_scheduled_line_is_read_by_its_schedule() -> None:
    # GUIDELINE §4 bounds the worst day by the maximum for as-needed orders only.
    result = daily_dose(
        [
            line(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                maxDosePerPeriod=per_period({"value": 150, "code": "mg"}, 1, "d"),
            )
        ],
        None,
    )

    assert isinstance(result, DailyDose) and result.mg_per_day == 25


def test_prn_without_a_maximum_is_its_schedule_and_says_so() -> None:
    result = daily_dose([prn({"value": 25, "code": "mg"}, NIGHTLY)], None)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 25
    assert result.arithmetic.startswith("as needed, no maximum stated: 25 mg")


@pytest.mark.parametrize(
    ("dosage", "reason"),
    [
        (
            prn({"value": 25, "code": "mg"}),
            "as needed with no maximum dose stated, and how often the dose is taken is not stated",
        ),
        (
            prn({"value": 25, "code": "mg"}, maxDosePerAdministration={"value": 50, "code": "mg"}),
            "as needed with a maximum per administration but no statement of how often",
        ),
        (
            prn(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                maxDosePerPeriod=per_period({"value": 150, "code": "mg"}, 1, "{course}"),
            ),
            "maxDosePerPeriod's period ('1 course') is not a length of time",
        ),
        (
            prn(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                maxDosePerPeriod=per_period({"value": 10, "code": "mL"}, 1, "d"),
            ),
            "maxDosePerPeriod unit 'mL' is not a mass or a tablet/capsule count",
        ),
        (
            prn(
                {"value": 25, "code": "mg"},
                NIGHTLY,
                maxDosePerPeriod=per_period({"value": 6, "code": "{tbl}"}, 1, "d"),
            ),
            "maxDosePerPeriod is 6 tablets, and the product's strength could not be read",
        ),
    ],
)
def test_a_maximum_that_cannot_be_read_says_why(dosage: dict[str, Any], reason: str) -> None:
    result = daily_dose([dosage], None)

    assert isinstance(result, UnknownDose)
    assert reason in result.reason


def test_unknown_line_reason_names_the_line() -> None:
    result = daily_dose([dosage(25, "mg"), line({"value": 1, "code": "mg"})], None)

    assert isinstance(result, UnknownDose)
    assert result.reason == "dosage line 2 of 2: how often the dose is taken is not stated"


# -- tapers (GUIDELINE §4: lines whose boundsPeriods do not overlap are not summed) --------


def step(mg_each: float, times: int, start: str | None, end: str | None) -> dict[str, Any]:
    result = dosage(mg_each, "mg", frequency=times)
    bounds = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    result["timing"]["repeat"]["boundsPeriod"] = bounds
    return result


def test_a_taper_in_dated_steps_is_its_largest_day_not_the_sum() -> None:
    taper = [
        step(25, 3, "2026-11-01", "2026-11-07"),
        step(25, 2, "2026-11-08", "2026-11-14"),
        step(25, 1, "2026-11-15", "2026-11-21"),
    ]

    result = daily_dose(taper, None)

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 75
    assert result.arithmetic.startswith("25 mg × 3 per 1 d (3/day) = 75 mg/day (the largest day")


def test_steps_that_overlap_are_summed() -> None:
    result = daily_dose(
        [step(25, 2, "2026-11-01", "2026-11-10"), step(50, 1, "2026-11-08", "2026-11-20")], None
    )

    assert isinstance(result, DailyDose) and result.mg_per_day == 100


def test_a_period_ending_on_the_day_the_next_begins_overlaps_it() -> None:
    # A Period's end date includes that whole day (FHIR Period.end).
    result = daily_dose(
        [step(25, 2, "2026-11-01", "2026-11-08"), step(50, 1, "2026-11-08", "2026-11-15")], None
    )

    assert isinstance(result, DailyDose) and result.mg_per_day == 100


def test_steps_meeting_at_an_instant_do_not_overlap() -> None:
    result = daily_dose(
        [
            step(25, 2, "2026-11-01T08:00:00Z", "2026-11-08T08:00:00Z"),
            step(75, 1, "2026-11-08T09:00:00+01:00", None),
        ],
        None,
    )

    assert isinstance(result, DailyDose) and result.mg_per_day == 75


def test_an_undated_line_is_taken_with_every_step() -> None:
    result = daily_dose(
        [
            dosage(10, "mg"),
            step(25, 2, "2026-11-01", "2026-11-07"),
            step(25, 1, "2026-11-08", "2026-11-14"),
        ],
        None,
    )

    assert isinstance(result, DailyDose), result
    assert result.mg_per_day == 60
    assert result.arithmetic.startswith("(10 mg × 1 per 1 d (1/day) = 10 mg/day) + (25 mg × 2")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-01", "2026-11"),  # a partial date is not placed in time
        ("2026-11-07", "2026-11-01"),  # an end before the start
        ("2026-11-01", None),  # no end: still running
        (None, None),
    ],
)
def test_steps_that_cannot_be_told_apart_are_summed(start: str | None, end: str | None) -> None:
    result = daily_dose([step(25, 2, start, end), step(25, 1, "2026-11-08", "2026-11-14")], None)

    assert isinstance(result, DailyDose) and result.mg_per_day == 75
