"""When an order was in use: MedicationFact.in_use (GUIDELINE §3 "in use together", §4
long-term opioids: validityPeriod, authoredOn to end, dosage timing bounds)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from facts.medications import Interval
from fhir_mappings.medications import medication_fact
from guideline.opioids import long_term_use
from tests.fhir import dosage, med

OXYCODONE_5 = "1049621"


def in_use(order: dict[str, Any]) -> Interval | None:
    fact = medication_fact(order, {})
    assert fact is not None
    return fact.in_use


def oxycodone(status: str = "completed", **extra: Any) -> dict[str, Any]:
    return med(OXYCODONE_5, status=status, **extra)


def bounded(**repeat: Any) -> dict[str, Any]:
    line = dosage(5, "mg", frequency=4)
    line["timing"]["repeat"].update(repeat)
    return line


def test_a_30_day_prescription_runs_through_its_validity_period() -> None:
    order = oxycodone(
        authored="2026-09-01",
        dispenseRequest={"validityPeriod": {"start": "2026-09-01", "end": "2026-09-30"}},
    )
    assert in_use(order) == Interval(date(2026, 9, 1), date(2026, 9, 30))


def test_an_active_order_is_still_running() -> None:
    order = oxycodone(
        "active",
        authored="2024-11-01",
        dispenseRequest={"validityPeriod": {"start": "2024-11-01", "end": "2024-11-30"}},
    )
    assert in_use(order) == Interval(date(2024, 11, 1), None)


@pytest.mark.parametrize("status", ["on-hold", "active"])
def test_current_statuses_have_no_end(status: str) -> None:
    assert in_use(oxycodone(status, authored="2026-01-05")) == Interval(date(2026, 1, 5), None)


def test_dosage_bounds_period_extends_the_period() -> None:
    order = oxycodone(
        authored="2026-03-01",
        dosages=[bounded(boundsPeriod={"start": "2026-03-02", "end": "2026-06-30"})],
        dispenseRequest={"validityPeriod": {"start": "2026-03-01", "end": "2026-03-31"}},
    )
    assert in_use(order) == Interval(date(2026, 3, 1), date(2026, 6, 30))


def test_the_start_is_the_earliest_date_given() -> None:
    order = oxycodone(
        authored="2026-03-10",
        dosages=[bounded(boundsPeriod={"start": "2026-03-01T08:00:00+01:00"})],
        dispenseRequest={"validityPeriod": {"start": "2026-03-05", "end": "2026-04-05"}},
    )
    assert in_use(order) == Interval(date(2026, 3, 1), date(2026, 4, 5))


@pytest.mark.parametrize(
    "duration",
    [
        {"value": 14, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
        {"value": 2, "unit": "weeks"},
        {"value": 2, "code": "wk"},
    ],
)
def test_bounds_duration_runs_from_the_start(duration: dict[str, Any]) -> None:
    order = oxycodone(authored="2026-05-01", dosages=[bounded(boundsDuration=duration)])
    assert in_use(order) == Interval(date(2026, 5, 1), date(2026, 5, 15))


def test_bounds_range_takes_its_high_end() -> None:
    order = oxycodone(
        authored="2026-05-01",
        dosages=[
            bounded(
                boundsRange={"low": {"value": 3, "code": "d"}, "high": {"value": 10, "code": "d"}}
            )
        ],
    )
    assert in_use(order) == Interval(date(2026, 5, 1), date(2026, 5, 11))


def test_the_supply_stands_in_when_no_end_is_given() -> None:
    # 30 days with two refills: authorised for 90 days of use.
    order = oxycodone(
        authored="2026-01-01",
        dispenseRequest={
            "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"},
            "numberOfRepeatsAllowed": 2,
        },
    )
    assert in_use(order) == Interval(date(2026, 1, 1), date(2026, 4, 1))


def test_a_stated_end_wins_over_the_supply() -> None:
    order = oxycodone(
        authored="2026-01-01",
        dispenseRequest={
            "validityPeriod": {"start": "2026-01-01", "end": "2026-01-10"},
            "expectedSupplyDuration": {"value": 30, "code": "d"},
            "numberOfRepeatsAllowed": 5,
        },
    )
    assert in_use(order) == Interval(date(2026, 1, 1), date(2026, 1, 10))


def test_monthly_renewals_over_two_years_leave_no_gaps() -> None:
    # Two years of oxycodone written month by month, each order with only its date and a
    # 30-day supply: the periods meet, so the guideline can join them into continuous use.
    renewals = [
        oxycodone(
            authored=f"{2024 + m // 12}-{m % 12 + 1:02d}-01",
            dispenseRequest={"expectedSupplyDuration": {"value": 30, "code": "d"}},
        )
        for m in range(24)
    ]
    periods = [in_use(order) for order in renewals]

    assert all(p is not None and p.start is not None and p.end is not None for p in periods)
    spans = [(p.start, p.end) for p in periods if p is not None]
    assert spans[0][0] == date(2024, 1, 1)
    assert spans[-1][1] == date(2025, 12, 31)
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        assert end is not None and next_start is not None
        assert (next_start - end).days < 30


def test_a_medication_statement_reads_its_effective_period() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": OXYCODONE_5}
            ]
        },
        "effectivePeriod": {"start": "2025-01-01", "end": "2025-07-01"},
    }
    assert in_use(statement) == Interval(date(2025, 1, 1), date(2025, 7, 1))


def test_a_medication_statement_on_one_date_is_that_day() -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms2",
        "status": "completed",
        "medicationCodeableConcept": {"text": "oxycodone 5 mg tablet"},
        "effectiveDateTime": "2025-03-04T10:00:00Z",
    }
    assert in_use(statement) == Interval(date(2025, 3, 4), date(2025, 3, 4))


def test_an_end_before_the_start_is_read_as_the_start() -> None:
    order = oxycodone(
        authored="2026-02-10",
        dispenseRequest={"validityPeriod": {"end": "2026-01-01"}},
    )
    assert in_use(order) == Interval(date(2026, 2, 10), date(2026, 2, 10))


def test_an_end_without_a_start_is_open_at_the_start() -> None:
    order = oxycodone(dispenseRequest={"validityPeriod": {"end": "2026-01-31"}})
    assert in_use(order) == Interval(None, date(2026, 1, 31))


@pytest.mark.parametrize("authored", [None, "not a date", "2026-13", "2026-02-30"])
def test_nothing_to_place_it_in_time(authored: str | None) -> None:
    assert in_use(oxycodone(authored=authored)) is None


@pytest.mark.parametrize(
    ("authored", "validity", "expected"),
    [
        # A partial start is its first day; with nothing else, the order is that one day.
        ("2026", {}, Interval(date(2026, 1, 1), date(2026, 1, 1))),
        ("2026-02", {}, Interval(date(2026, 2, 1), date(2026, 2, 1))),
        # A partial end is its last day: the period is read as wide as the record allows.
        ("2026-01", {"end": "2026-03"}, Interval(date(2026, 1, 1), date(2026, 3, 31))),
        ("2024-02-10", {"end": "2024-02"}, Interval(date(2024, 2, 10), date(2024, 2, 29))),
        (
            "2025-06-01",
            {"start": "2025", "end": "2025"},
            Interval(date(2025, 1, 1), date(2025, 12, 31)),
        ),
    ],
)
def test_a_partial_date_widens_the_period(
    authored: str, validity: dict[str, str], expected: Interval
) -> None:
    order = oxycodone(authored=authored, dispenseRequest={"validityPeriod": validity})
    assert in_use(order) == expected


def test_renewals_dated_by_month_join_into_long_term_use() -> None:
    # Three monthly oxycodone prescriptions recorded by month only, January to April: each
    # end is its month's last day, so they join from 1 January to 30 April, more than 90 days
    # of continuous use (GUIDELINE §4), still going on when the last has just ended.
    orders = [
        oxycodone(
            authored=f"2026-0{m}", dispenseRequest={"validityPeriod": {"end": f"2026-0{m + 1}"}}
        )
        for m in (1, 2, 3)
    ]
    facts = tuple(fact for order in orders if (fact := medication_fact(order, {})) is not None)
    assert [f.in_use for f in facts] == [
        Interval(date(2026, 1, 1), date(2026, 2, 28)),
        Interval(date(2026, 2, 1), date(2026, 3, 31)),
        Interval(date(2026, 3, 1), date(2026, 4, 30)),
    ]
    span = long_term_use(facts, date(2026, 5, 10))
    assert span is not None and (span.start, span.end, span.days) == (
        date(2026, 1, 1),
        date(2026, 4, 30),
        119,
    )
