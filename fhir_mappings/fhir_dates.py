"""FHIR `date`, `dateTime` and `instant` values as calendar dates, one rule per use.

FHIR lets a date or dateTime be partial: a year ("2024") or a year and month ("2024-05").
Such a value names a stretch of days, and which day of it stands for it depends on the
question asked. Every use reads it the way that cannot hide a caution:

- The start of an order's period of use (`authoredOn`, `validityPeriod.start`,
  `boundsPeriod.start`, a statement's `effective[x]`): `first_day`. And its end
  (`validityPeriod.end`, `boundsPeriod.end`, `effectivePeriod.end`): `last_day`. The period is
  read as wide as the record allows, so continuous opioid use (§4) or two agents in use
  together (§3) are not missed because a date was coarse.
- A Condition's end (`abatementDateTime`, `abatementPeriod`): `last_day`. A Condition stays
  live until its end has certainly passed: dropping a heart finding early would silence a
  caution, keeping one a few weeks longer only adds one.
- When a Condition began or was recorded (`onset[x]`, `recordedDate`): `last_day`, though
  an onset is a start. The guideline reads these dates only for an MI's recency ("within 30
  days", §4): an MI of "2026-10" may be 24 days old on 24 November, and only its latest day
  gives the cautious answer, acute.
- When a pain score was taken (`effective[x]`, `issued`): `exact_day`; a partial date is no
  day, and the score is left out. A card shows each score with its day, which would be
  invented; a score left out at worst prompts a reassessment.
- The bounds of a dated dosage step (`timing.repeat.boundsPeriod`, for the daily dose):
  `moment`; a partial date places no step in time, and an unplaced step is summed with the
  others: the larger day (§4 "preferably below 100 mg/day").

Anything that is not a date at all (not a string, not ISO 8601) is None in every use.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Any

_YEAR = 4
_YEAR_MONTH = 7
_FULL_DATE = 10


def first_day(value: Any) -> date | None:
    """The first day a FHIR date or dateTime may be: "2024" is 1 January 2024."""
    parts = _parts(value)
    if parts is None:
        return None
    year, month, day = parts
    return _date(year, 1 if month is None else month, 1 if day is None else day)


def last_day(value: Any) -> date | None:
    """The last day a FHIR date or dateTime may be: "2024" is 31 December 2024, "2024-02"
    is 29 February 2024."""
    parts = _parts(value)
    if parts is None:
        return None
    year, month, day = parts
    month = 12 if month is None else month
    if day is None:
        if not 1 <= month <= 12:
            return None
        day = calendar.monthrange(year, month)[1]
    return _date(year, month, day)


def exact_day(value: Any) -> date | None:
    """The day of a full FHIR date, dateTime or instant; None for a partial date."""
    parts = _parts(value)
    if parts is None:
        return None
    year, month, day = parts
    if month is None or day is None:
        return None
    return _date(year, month, day)


def moment(value: Any) -> datetime | None:
    """A full FHIR date or dateTime as a naive UTC datetime (a date is its midnight); None
    for a partial date."""
    if not isinstance(value, str) or len(value.strip()) < _FULL_DATE:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _parts(value: Any) -> tuple[int, int | None, int | None] | None:
    """Year, month and day of a FHIR date, dateTime or instant (month and day None where the
    value is partial); None when it is not one."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        if len(value) == _YEAR and value.isdigit():
            return int(value), None, None
        if len(value) == _YEAR_MONTH and value[4] == "-" and value[:4].isdigit():
            return int(value[:4]), int(value[5:7]), None
        if len(value) >= _FULL_DATE:
            day = date.fromisoformat(value[:_FULL_DATE])
            return day.year, day.month, day.day
    except ValueError:
        return None
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
