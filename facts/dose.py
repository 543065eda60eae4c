"""A daily dose with its arithmetic, or why it could not be worked out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DailyDose:
    mg_per_day: float
    arithmetic: str
    # The day counted is an as-needed order's maximum (maxDosePerPeriod, or the maximum per
    # administration at the most frequent timing), larger than its schedule (GUIDELINE §4).
    as_needed_maximum: bool = False


@dataclass(frozen=True, slots=True)
class UnknownDose:
    reason: str


def fmt(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
