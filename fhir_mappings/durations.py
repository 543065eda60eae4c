"""Lengths of time in FHIR: `Timing.repeat.periodUnit` codes and `Duration`/`Quantity` values.

Shared by the dose arithmetic (per period, per day) and the periods medication orders are
in use (`boundsDuration`, `expectedSupplyDuration`).
"""

from __future__ import annotations

from typing import Any

from fhir_mappings.json_access import number, obj, text

# UCUM time units as `Timing.repeat.periodUnit` and `Duration.code` use them.
DAYS_PER_UNIT: dict[str, float] = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "wk": 7.0,
    "mo": 30.0,  # UCUM's calendar month is not a fixed length; 30 days errs toward a higher dose
    "a": 365.0,
}

# The words EHRs put in `Duration.unit` when they send no code.
_UNIT_WORDS: dict[str, str] = {
    "sec": "s",
    "second": "s",
    "minute": "min",
    "hr": "h",
    "hour": "h",
    "day": "d",
    "week": "wk",
    "month": "mo",
    "year": "a",
    "yr": "a",
}


def unit_days(unit: str | None) -> float | None:
    """Days in one `unit` (a UCUM code such as `d`, or a word such as `days`)."""
    if not unit:
        return None
    unit = unit.strip()
    if unit in DAYS_PER_UNIT:
        return DAYS_PER_UNIT[unit]
    word = unit.lower().removesuffix("(s)")
    word = _UNIT_WORDS.get(word) or _UNIT_WORDS.get(word.removesuffix("s")) or word
    return DAYS_PER_UNIT.get(word)


def duration_days(quantity: Any) -> float | None:
    """A Duration (or time Quantity) in days; None when it has no value or no time unit."""
    quantity = obj(quantity)
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return None
    days = unit_days(text(quantity.get("code"))) or unit_days(text(quantity.get("unit")))
    return None if days is None else value * days
