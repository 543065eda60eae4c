"""A recorded pain-intensity score (GUIDELINE §3 "Response")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class PainScore:
    reference: str
    label: str  # the code's display, e.g. "Pain severity 0-10 (reported)"
    value: float
    unit: str | None
    when: date
    preliminary: bool  # status `preliminary`: shown as such; final/amended/corrected are not
