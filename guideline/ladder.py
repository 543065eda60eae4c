"""GUIDELINE §3: where the patient stands on the treatment ladder and what comes next.

The EHR rarely records response, so the patient is placed by the treatment history:

| step            | when (from the orders and allergies the service can see)                |
|-----------------|-------------------------------------------------------------------------|
| START (1)       | no systemic first-line class tried (an allergy or intolerance counts)   |
| ADD_OR_SWITCH   | one tried, never two different systemic first-line classes together     |
| COMBINATION (2) | two different systemic first-line classes in use together               |
| SECOND_LINE (3) | a combination, and ketamine, the topical compound or an opioid tried    |

The lidocaine patch is an adjunct that does not move the ladder, and opioid agonist
treatment of an opioid use disorder is not part of it. What comes next is a `Stage`, always
phrased conditionally ("if relief is insufficient …"):

| stage          | when                                         | offered                         |
|----------------|----------------------------------------------|---------------------------------|
| BEGIN          | step 1, or no gabapentinoid order yet        | gabapentin, pregabalin          |
| ADD_OR_SWITCH  | a gabapentinoid tried, no TCA/SNRI current   | a TCA or an SNRI                |
| COMBINE        | a TCA or an SNRI current                     | a gabapentinoid; the other only |
|                |                                              | as a switch (never stacked)     |
| STEP_2         | step 2                                       | mirror/exercise; step 3 options |
| STEP_4         | step 3 tried: refractory                     | referral                        |

No therapy is offered that the patient takes, has tried, or does not tolerate, nor a TCA when
the heart is a concern; when that leaves a stage with nothing to offer, the card says so with
each reason and the plan moves on to the next stage's options.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import combinations

from facts.allergies import AllergyFact
from facts.classes import TherapyClass
from facts.conditions import ConditionFact
from facts.medications import Interval, MedicationFact
from guideline.chart import Chart, allergy_classes
from guideline.findings import Exclusion
from guideline.therapies import (
    ALTERNATIVE_CLASS,
    GABAPENTINOIDS,
    OF_CLASS,
    SECOND_LINE,
    SNRIS,
    STEP_2_ADD_ONS,
    STEP_3_OPTIONS,
    STEP_4_OPTIONS,
    SYSTEMIC_FIRST_LINE,
    TCAS,
    Therapy,
)


class Step(StrEnum):
    START = "1"
    ADD_OR_SWITCH = "1→"
    COMBINATION = "2"
    SECOND_LINE = "3"


class Stage(StrEnum):
    BEGIN = "begin"
    ADD_OR_SWITCH = "add-or-switch"
    COMBINE = "combine"
    STEP_2 = "step-2"
    STEP_4 = "step-4"


class OpioidOption(StrEnum):
    """Step 3's short-term opioid option for severe exacerbations (text only, never a draft)."""

    NOT_NAMED = "not-named"  # the plan is not at step 2
    OFFERED = "offered"
    # Not offered to a patient on opioid agonist treatment of an opioid use disorder (§2).
    WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class Option:
    therapy: Therapy
    # A switch (TCA↔SNRI): the current orders it stops once the new draft is created.
    stops: tuple[MedicationFact, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    step: Step
    stage: Stage
    options: tuple[Option, ...]
    left_out: tuple[Exclusion, ...]
    # Stages skipped because every agent in them was excluded, in order.
    passed: tuple[Stage, ...]
    tried: tuple[tuple[TherapyClass, tuple[MedicationFact, ...]], ...]
    not_tolerated: tuple[AllergyFact, ...]
    heart: tuple[ConditionFact, ...]
    risk_factors: tuple[ConditionFact, ...]
    agonist_treatment: tuple[MedicationFact, ...]
    opioid_use_disorder: tuple[ConditionFact, ...]
    opioid_option: OpioidOption
    # The current TCA or SNRI orders a COMBINE stage is built around.
    anchored_on: tuple[MedicationFact, ...] = ()

    @property
    def therapies(self) -> tuple[Therapy, ...]:
        return tuple(o.therapy for o in self.options)

    @property
    def snri_first(self) -> bool:
        """§4: with cardiovascular risk factors (and no cardiac disease), SNRIs come first."""
        return bool(self.risk_factors)


def assess(chart: Chart) -> Plan:
    step = place(chart)
    stages = _stages(chart, step)
    offered: list[Option] = []
    left_out: list[Exclusion] = []
    passed: list[Stage] = []
    stage = stages[-1]
    opioid = OpioidOption.NOT_NAMED
    for stage in stages:
        options, excluded, named = _stage(chart, stage, step)
        left_out.extend(excluded)
        if named is not OpioidOption.NOT_NAMED:
            opioid = named
        if _has_agents(stage, options, opioid):
            offered.extend(options)
            break
        if stage is Stage.STEP_2:
            # Step 3's options are all ruled out; step 2's own add-ons still stand.
            offered.extend(Option(t) for t in STEP_2_ADD_ONS)
        passed.append(stage)
    if step in (Step.START, Step.ADD_OR_SWITCH):
        exclusion = chart.exclusion(Therapy.LIDOCAINE_PATCH)
        if exclusion is None:
            offered.append(Option(Therapy.LIDOCAINE_PATCH))
        else:
            left_out.append(exclusion)
    anchored_on = (
        chart.current_of_class(TherapyClass.TCA) + chart.current_of_class(TherapyClass.SNRI)
        if Stage.COMBINE in (stage, *passed)
        else ()
    )
    return Plan(
        step=step,
        stage=stage,
        options=tuple(offered),
        left_out=tuple(left_out),
        passed=tuple(passed),
        tried=tried_by_class(chart.medications),
        not_tolerated=tuple(a for a in chart.allergies if allergy_classes(a)),
        heart=chart.heart,
        risk_factors=chart.risk_factors,
        agonist_treatment=chart.agonist_treatment,
        opioid_use_disorder=chart.opioid_use_disorder,
        opioid_option=opioid,
        anchored_on=anchored_on,
    )


def _stages(chart: Chart, step: Step) -> tuple[Stage, ...]:
    if step is Step.START:
        return (Stage.BEGIN,)
    if step is Step.SECOND_LINE:
        return (Stage.STEP_4,)
    if step is Step.COMBINATION:
        return (Stage.STEP_2, Stage.STEP_4)
    if chart.current_of_class(TherapyClass.TCA) or chart.current_of_class(TherapyClass.SNRI):
        return (Stage.COMBINE, Stage.STEP_2, Stage.STEP_4)
    if _may_begin_again(chart):
        return (Stage.BEGIN, Stage.STEP_2, Stage.STEP_4)
    return (Stage.ADD_OR_SWITCH, Stage.STEP_2, Stage.STEP_4)


def _may_begin_again(chart: Chart) -> bool:
    """ "Begin with gabapentin or pregabalin" still holds while no gabapentinoid order was tried:
    an intolerance rules out that agent only (gabapentin's leaves pregabalin available)."""
    ordered = any(
        m.tried and TherapyClass.GABAPENTINOID in m.classes and not m.topical
        for m in chart.medications
    )
    return not ordered and any(chart.exclusion(t) is None for t in GABAPENTINOIDS)


def _stage(
    chart: Chart, stage: Stage, step: Step
) -> tuple[tuple[Option, ...], tuple[Exclusion, ...], OpioidOption]:
    """The options a stage offers, the exclusions among its candidates, the opioid option."""
    if stage is Stage.BEGIN:
        begin, left_out = chart.sort_out(GABAPENTINOIDS)
        if step is Step.ADD_OR_SWITCH:
            # A first-line class was tried (not a gabapentinoid order): the step-1→ options
            # stand beside the start.
            more, also_left_out = chart.sort_out(_tcas_and_snris(chart))
            begin, left_out = begin + more, left_out + also_left_out
        return tuple(Option(t) for t in begin), left_out, OpioidOption.NOT_NAMED
    if stage is Stage.ADD_OR_SWITCH:
        offered, left_out = chart.sort_out(_tcas_and_snris(chart))
        return tuple(Option(t) for t in offered), left_out, OpioidOption.NOT_NAMED
    if stage is Stage.COMBINE:
        return _combine(chart)
    if stage is Stage.STEP_2:
        offered, left_out = chart.sort_out(STEP_3_OPTIONS)
        opioid = OpioidOption.WITHHELD if chart.agonist_treatment else OpioidOption.OFFERED
        options = tuple(Option(t) for t in (*STEP_2_ADD_ONS, *offered))
        return options, left_out, opioid
    return tuple(Option(t) for t in STEP_4_OPTIONS), (), OpioidOption.NOT_NAMED


def _tcas_and_snris(chart: Chart) -> tuple[Therapy, ...]:
    return (*SNRIS, *TCAS) if chart.risk_factors else (*TCAS, *SNRIS)


def _combine(chart: Chart) -> tuple[tuple[Option, ...], tuple[Exclusion, ...], OpioidOption]:
    """A current TCA or SNRI: its partner is a gabapentinoid; the other of the two is offered
    only as a switch that stops the current one (GUIDELINE §3)."""
    partners, left_out = chart.sort_out(GABAPENTINOIDS)
    options = [Option(t) for t in partners]
    for current_class in (TherapyClass.TCA, TherapyClass.SNRI):
        current = chart.current_of_class(current_class)
        if not current:
            continue
        switches, excluded = chart.sort_out(OF_CLASS[ALTERNATIVE_CLASS[current_class]])
        options.extend(Option(t, stops=current) for t in switches)
        left_out += excluded
    return tuple(options), left_out, OpioidOption.NOT_NAMED


def _has_agents(stage: Stage, options: tuple[Option, ...], opioid: OpioidOption) -> bool:
    if stage is Stage.STEP_2:
        return opioid is OpioidOption.OFFERED or any(o.therapy in STEP_3_OPTIONS for o in options)
    return bool(options)


def tried_by_class(
    medications: tuple[MedicationFact, ...],
) -> tuple[tuple[TherapyClass, tuple[MedicationFact, ...]], ...]:
    tried: dict[TherapyClass, list[MedicationFact]] = {}
    for medication in medications:
        if medication.tried:
            for therapy_class in sorted(medication.classes):
                tried.setdefault(therapy_class, []).append(medication)
    return tuple((c, tuple(meds)) for c, meds in tried.items())


def systemic_first_line(medication: MedicationFact) -> frozenset[TherapyClass]:
    return frozenset() if medication.topical else medication.classes & SYSTEMIC_FIRST_LINE


def place(chart: Chart) -> Step:
    tried = [m for m in chart.medications if m.tried]
    first_line = [m for m in tried if systemic_first_line(m)]
    not_tolerated = any(allergy_classes(a) & SYSTEMIC_FIRST_LINE for a in chart.allergies)
    if not first_line and not not_tolerated:
        return Step.START
    if not used_together(first_line):
        return Step.ADD_OR_SWITCH
    if any(m.classes & SECOND_LINE for m in tried):
        return Step.SECOND_LINE
    return Step.COMBINATION


def used_together(first_line: list[MedicationFact]) -> bool:
    """Were two different systemic first-line classes ever in use at the same time?

    Each class's times of use are merged into disjoint spans first, so the check stays
    linear in the number of orders. Orders still running are open-ended and overlap each
    other; an ended order with no dates cannot be placed in time and is left out.
    """
    spans: dict[TherapyClass, list[Interval]] = {}
    for medication in first_line:
        if medication.in_use is not None:
            for therapy_class in systemic_first_line(medication):
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
