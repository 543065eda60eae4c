"""FHIR dates and dateTimes as calendar dates, partial dates included (an abatement may be
recorded as just a year)."""

from __future__ import annotations

from datetime import date
from typing import Any


def earliest_date(value: Any) -> date | None:
    """The date of a FHIR date or dateTime; a partial date ("2024", "2024-05") is its
    first day. Anything else is None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        if len(value) == 4:
            return date(int(value), 1, 1)
        if len(value) == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        if len(value) >= 10:
            return date.fromisoformat(value[:10])
    except ValueError:
        return None
    return None


def lies_ahead(value: Any, today: date) -> bool:
    """Whether a FHIR date lies after today. A value that is not a date does not: a
    partial date counts from its first day, so "this year" is not in the future."""
    when = earliest_date(value)
    return when is not None and when > today
