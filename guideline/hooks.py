"""What the guideline says for each hook: the entry points `cds/` calls.

Pure functions of the facts and the date: `today` is a parameter (the cds layer passes it),
so the same facts always give the same advice and tests need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from facts.conditions import ConditionFact
from facts.medications import MedicationFact
from facts.orders import SplintOrder
from facts.patient import PatientFacts
from guideline.chart import Chart
from guideline.findings import Finding, Hook
from guideline.ladder import Plan, assess
from guideline.precautions import ON_CHART_OPEN, ON_ORDER, Orders, evaluate
from guideline.response import ResponseReview, review

Judged = TypeVar("Judged", MedicationFact, SplintOrder)


@dataclass(frozen=True, slots=True)
class ChartAdvice:
    """patient-view: where the patient stands and what comes next, the precautions already
    true of the current medication, and the recorded response."""

    plan: Plan
    findings: tuple[Finding, ...]
    response: ResponseReview
    phantom_limb_pain: tuple[ConditionFact, ...]


def chart_advice(facts: PatientFacts, *, today: date, reassessment_days: int) -> ChartAdvice | None:
    """None for a patient out of scope (no live phantom limb pain): no advice at all."""
    if not facts.in_scope:
        return None
    chart = Chart(facts, today)
    current = tuple(m for m in chart.medications if m.current)
    findings = evaluate(chart, Orders(judged=current), Hook.PATIENT_VIEW, ON_CHART_OPEN)
    agents = tuple(m for m in current if m.classes)  # the guideline's agents
    response = review(facts.pain_scores, agents, today=today, interval_days=reassessment_days)
    return ChartAdvice(assess(chart), tuple(findings), response, facts.phantom_limb_pain)


def order_findings(
    facts: PatientFacts,
    drafts: tuple[MedicationFact, ...],
    splints: tuple[SplintOrder, ...],
    *,
    selected: frozenset[str] | None,
    hook: Hook,
    today: date,
) -> tuple[Finding, ...]:
    """order-select judges the selected drafts, with the other drafts beside them; order-sign
    (`selected` None) judges every draft. Current orders a draft revises or replaces are not
    counted twice."""
    if not facts.in_scope:
        return ()
    chart = Chart(facts, today)
    judged = _pick(drafts, selected)
    # By identity: `m not in judged` would compare every pair, quadratic in the drafts.
    judged_ids = {id(m) for m in judged}
    others = tuple(m for m in drafts if id(m) not in judged_ids)
    replaced = {m.reference for m in drafts} | {m.replaces for m in drafts if m.replaces}
    current = tuple(m for m in chart.medications if m.current and m.reference not in replaced)
    orders = Orders(judged=judged, alongside=others + current, splints=_pick(splints, selected))
    return tuple(evaluate(chart, orders, hook, ON_ORDER))


def _pick(orders: tuple[Judged, ...], selected: frozenset[str] | None) -> tuple[Judged, ...]:
    if selected is None:
        return orders
    return tuple(o for o in orders if o.reference in selected)
