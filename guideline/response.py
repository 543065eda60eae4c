"""GUIDELINE §3 "Response": the recorded pain scores beside the current agents, and whether
pain and quality of life are due for reassessment.

The guideline branches on response but gives no threshold: the service shows the scores and
when each current agent started, so the prescriber judges; it names no response category.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from facts.medications import MedicationFact
from facts.observations import PainScore


class Reassessment(StrEnum):
    SCORED = "scored"  # a counted score lies within the interval
    DUE = "due"  # scores exist, none counted within the interval
    NONE_RECORDED = "none-recorded"  # no counted score at all
    NOT_AVAILABLE = "not-available"  # the scores could not be obtained


@dataclass(frozen=True, slots=True)
class ResponseReview:
    # Most recent first; None when the scores could not be obtained.
    scores: tuple[PainScore, ...] | None
    current: tuple[MedicationFact, ...]
    reassessment: Reassessment
    last_scored: PainScore | None  # the latest counted score
    interval_days: int


def review(
    scores: tuple[PainScore, ...] | None,
    current: tuple[MedicationFact, ...],
    *,
    today: date,
    interval_days: int,
) -> ResponseReview:
    if scores is None:
        return ResponseReview(None, current, Reassessment.NOT_AVAILABLE, None, interval_days)
    ordered = tuple(sorted(scores, key=lambda s: s.when, reverse=True))
    # Final, amended and corrected scores count; a preliminary one is shown, marked as such.
    counted = [s for s in ordered if not s.preliminary]
    last = counted[0] if counted else None
    if last is None:
        state = Reassessment.NONE_RECORDED
    elif (today - last.when).days > interval_days:
        state = Reassessment.DUE
    else:
        state = Reassessment.SCORED
    return ResponseReview(ordered, current, state, last, interval_days)
