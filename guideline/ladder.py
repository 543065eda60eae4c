"""GUIDELINE §3: where the patient stands on the treatment ladder and what comes next.

The EHR rarely records response, so the patient is placed by the treatment history:

| step            | when (from the orders the service can see)                          |
|-----------------|---------------------------------------------------------------------|
| START (1)       | no first-line class tried                                           |
| ADD_OR_SWITCH   | a first-line class tried, never two different ones in use together  |
| COMBINATION (2) | two different first-line classes in use together                     |
| SECOND_LINE (3) | a combination, and ketamine, the topical compound or an opioid tried |

and the next step is always phrased conditionally ("if relief is insufficient …").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import combinations

from facts.classes import TherapyClass
from facts.medications import Interval, MedicationFact
from facts.patient import PatientFacts
from guideline.therapies import (
    FIRST_LINE,
    GABAPENTINOIDS,
    SECOND_LINE,
    SNRIS,
    THERAPY_CLASS,
    Therapy,
)


class Step(StrEnum):
    START = "1"
    ADD_OR_SWITCH = "1→"
    COMBINATION = "2"
    SECOND_LINE = "3"


# What the guideline advises next from each place (§3's right-hand column, one row on).
NEXT_THERAPIES: dict[Step, tuple[Therapy, ...]] = {
    Step.START: (*GABAPENTINOIDS, Therapy.LIDOCAINE_PATCH),
    Step.ADD_OR_SWITCH: (
        Therapy.NORTRIPTYLINE,
        Therapy.DESIPRAMINE,
        *SNRIS,
        Therapy.LIDOCAINE_PATCH,
    ),
    Step.COMBINATION: (
        Therapy.MIRROR_THERAPY,
        Therapy.EXERCISE_THERAPY,
        Therapy.KETAMINE,
        Therapy.TOPICAL_COMPOUND,
    ),
    Step.SECOND_LINE: (Therapy.SPINAL_CORD_STIMULATION, Therapy.MULTIDISCIPLINARY),
}


@dataclass(frozen=True, slots=True)
class Assessment:
    step: Step
    tried: dict[TherapyClass, tuple[MedicationFact, ...]]
    next_therapies: tuple[Therapy, ...]
    tca_withheld_for_heart: bool
    snri_preferred_for_risk: bool


def assess(facts: PatientFacts) -> Assessment:
    tried = tried_by_class(facts.medications)
    step = place(facts.medications)
    heart = bool(facts.heart)
    risk = bool(facts.risk_factors) and not heart
    return Assessment(
        step=step,
        tried=tried,
        next_therapies=next_therapies(step, tried, heart=heart, risk=risk),
        tca_withheld_for_heart=heart and step is Step.ADD_OR_SWITCH,
        snri_preferred_for_risk=risk and step is Step.ADD_OR_SWITCH,
    )


def tried_by_class(
    medications: tuple[MedicationFact, ...],
) -> dict[TherapyClass, tuple[MedicationFact, ...]]:
    tried: dict[TherapyClass, list[MedicationFact]] = {}
    for medication in medications:
        if medication.tried:
            for therapy_class in medication.classes:
                tried.setdefault(therapy_class, []).append(medication)
    return {c: tuple(meds) for c, meds in tried.items()}


def place(medications: tuple[MedicationFact, ...]) -> Step:
    tried = [m for m in medications if m.tried]
    first_line = [m for m in tried if m.classes & FIRST_LINE]
    if not first_line:
        return Step.START
    if not used_together(first_line):
        return Step.ADD_OR_SWITCH
    if any(m.classes & SECOND_LINE for m in tried):
        return Step.SECOND_LINE
    return Step.COMBINATION


def used_together(first_line: list[MedicationFact]) -> bool:
    """Were two different first-line classes ever in use at the same time?

    Each class's times of use are merged into disjoint spans first, so the check stays
    linear in the number of orders. Orders still running are open-ended and overlap each
    other; an ended order with no dates cannot be placed in time and is left out.
    """
    spans: dict[TherapyClass, list[Interval]] = {}
    for medication in first_line:
        if medication.in_use is not None:
            for therapy_class in medication.classes & FIRST_LINE:
                spans.setdefault(therapy_class, []).append(medication.in_use)
    merged = [merge(intervals) for intervals in spans.values()]
    return any(overlap(a, b) for a, b in combinations(merged, 2))


def merge(intervals: list[Interval]) -> list[tuple[date, date]]:
    bounded = sorted((i.start or date.min, i.end or date.max) for i in intervals)
    result = [bounded[0]]
    for start, end in bounded[1:]:
        last_start, last_end = result[-1]
        if start <= last_end:
            result[-1] = (last_start, max(last_end, end))
        else:
            result.append((start, end))
    return result


def overlap(a: list[tuple[date, date]], b: list[tuple[date, date]]) -> bool:
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][0] <= b[j][1] and b[j][0] <= a[i][1]:
            return True
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return False


def next_therapies(
    step: Step,
    tried: dict[TherapyClass, tuple[MedicationFact, ...]],
    *,
    heart: bool,
    risk: bool,
) -> tuple[Therapy, ...]:
    candidates = list(NEXT_THERAPIES[step])
    if step is Step.ADD_OR_SWITCH and TherapyClass.GABAPENTINOID not in tried:
        # "Begin with gabapentin or pregabalin": still the first move when none was tried.
        candidates[:0] = GABAPENTINOIDS
    current = {c for c, meds in tried.items() if any(m.current for m in meds)}
    chosen = [t for t in candidates if THERAPY_CLASS.get(t) not in current]
    if heart:
        # §3/§4: an SNRI instead of a TCA when the heart is a concern.
        chosen = [t for t in chosen if THERAPY_CLASS.get(t) is not TherapyClass.TCA]
    elif risk:
        # §4: cardiovascular risk factors → consider an SNRI first.
        chosen.sort(key=lambda t: THERAPY_CLASS.get(t) is TherapyClass.TCA)
    return tuple(chosen)
