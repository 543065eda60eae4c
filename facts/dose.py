"""A daily dose with its arithmetic, or why it could not be worked out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class DailyDose:
    mg_per_day: float
    arithmetic: str
    # The day counted is an as-needed order's maximum (maxDosePerPeriod, or the maximum per
    # administration at the most frequent timing), larger than its schedule (GUIDELINE §4).
    as_needed_maximum: bool = False


class DoseGap(StrEnum):
    """What keeps a daily dose from being worked out; the cards word each differently."""

    # Part of the dose is not written yet (no dosage, no amount, no frequency): at selection
    # it often comes later.
    NOT_WRITTEN = "not-written"
    # A count of tablets or capsules whose product strength could not be read.
    STRENGTH = "strength"
    # Written, in a form the service cannot read (a unit, a period, a combination product).
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class UnknownDose:
    reason: str
    gap: DoseGap = DoseGap.UNREADABLE


def fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
