"""FHIR dates with one rule per use for partial dates (fhir_mappings/fhir_dates.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from fhir_mappings.fhir_dates import exact_day, first_day, last_day, moment
from fhir_mappings.observations import pain_score


@pytest.mark.parametrize(
    ("value", "first", "last", "exact"),
    [
        ("2026-03-15", date(2026, 3, 15), date(2026, 3, 15), date(2026, 3, 15)),
        ("2026-03-15T23:30:00-05:00", date(2026, 3, 15), date(2026, 3, 15), date(2026, 3, 15)),
        ("2026-03-15T08:00:00.123Z", date(2026, 3, 15), date(2026, 3, 15), date(2026, 3, 15)),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31), None),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 30), None),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), None),  # a leap year
        ("2025-02", date(2025, 2, 1), date(2025, 2, 28), None),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), None),
        (" 2026-12 ", date(2026, 12, 1), date(2026, 12, 31), None),
    ],
)
def test_a_date_by_use(value: str, first: date, last: date, exact: date | None) -> None:
    assert (first_day(value), last_day(value), exact_day(value)) == (first, last, exact)


@pytest.mark.parametrize(
    "value",
    [None, 2026, "", "20", "202", "2026-1", "2026-13", "2026-00", "2026-02-30", "26-03-15",
     "March 2026", "2026/03/15", "abcd", "2026-ab"],
)  # fmt: skip
def test_what_is_not_a_date_is_none_in_every_use(value: Any) -> None:
    assert (first_day(value), last_day(value), exact_day(value), moment(value)) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-08", datetime(2026, 1, 8)),
        ("2026-01-08T10:00:00+02:00", datetime(2026, 1, 8, 8)),
        ("2026-01-08T10:00:00Z", datetime(2026, 1, 8, 10)),
        ("2026-01-08T10:00:00", datetime(2026, 1, 8, 10)),
        ("2026-01", None),  # a dosage step dated by month is not placed: it is summed
        ("2026", None),
    ],
)
def test_a_moment(value: str, expected: datetime | None) -> None:
    assert moment(value) == expected


def test_a_pain_score_dated_by_month_is_left_out() -> None:
    # A card shows each score with its day; the record gives none (fhir_dates).
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
        "valueInteger": 6,
        "effectiveDateTime": "2026-10",
    }
    assert pain_score(observation) is None
    full = pain_score({**observation, "effectiveDateTime": "2026-10-02"})
    assert full is not None and full.when == date(2026, 10, 2)
