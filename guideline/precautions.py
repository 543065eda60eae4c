"""GUIDELINE §4: the precautions, each a small rule over the orders being judged.

`judged` are the orders the prescriber is acting on (the selected drafts at order-select,
every draft at order-sign, the current medications at patient-view); `alongside` are the
other orders in effect at the same time (other drafts, current medications not replaced).
Each rule returns final findings: severity for this hook, and the alternatives to offer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from facts.classes import Amine, TherapyClass
from facts.dose import DailyDose, UnknownDose
from facts.medications import MedicationFact
from facts.orders import SplintOrder, SplintSite
from guideline.chart import Chart
from guideline.findings import (
    Alternative,
    Change,
    Exclusion,
    Finding,
    Hook,
    Reason,
    Rule,
    Severity,
)
from guideline.heart import heart_severity
from guideline.opioids import long_term_use
from guideline.therapies import SNRIS, TCAS, Therapy

TCA_DAILY_LIMIT_MG = 100.0  # "preferably below 100 mg/day": 100 itself is flagged


@dataclass(frozen=True, slots=True)
class Orders:
    judged: tuple[MedicationFact, ...]
    alongside: tuple[MedicationFact, ...] = ()
    splints: tuple[SplintOrder, ...] = ()


def is_snri(medication: MedicationFact) -> bool:
    return TherapyClass.SNRI in medication.classes and not medication.topical


def _drafts(orders: tuple[MedicationFact, ...]) -> tuple[MedicationFact, ...]:
    return tuple(m for m in orders if not m.current)


def _current(orders: tuple[MedicationFact, ...]) -> tuple[MedicationFact, ...]:
    return tuple(m for m in orders if m.current)


def _replacements(
    chart: Chart,
    hook: Hook,
    orders: tuple[MedicationFact, ...],
    therapies: tuple[Therapy, ...],
    beside: tuple[MedicationFact, ...] = (),
) -> tuple[tuple[Alternative, ...], tuple[Exclusion, ...]]:
    """Swap the orders for each therapy the patient may be offered: at order time the drafts
    are replaced; on the chart the current orders are switched (the new draft, then a stop).

    `beside` are the other orders of the class being swapped away that are in effect (other
    drafts, current orders): a swap to the alternative class goes for them too, or it would
    stack the two classes itself (§3: TCA and SNRI are never taken together)."""
    offered, left_out = chart.sort_out(therapies)
    if hook is Hook.PATIENT_VIEW:
        return tuple(Alternative(Change.SWITCH, t, stops=orders) for t in offered), left_out
    removes, stops = orders + _drafts(beside), _current(beside)
    change = Change.SWITCH if stops else Change.REPLACE
    return (
        tuple(Alternative(change, t, removes=removes, stops=stops) for t in offered),
        left_out,
    )


def _other_tcas(orders: Orders, hook: Hook) -> tuple[MedicationFact, ...]:
    """The systemic TCAs in effect beside the judged ones: other drafts and current orders at
    order time (on the chart every current order is judged already)."""
    if hook is Hook.PATIENT_VIEW:
        return ()
    return tuple(m for m in orders.alongside if m.systemic_tca)


def _snri_swaps(
    chart: Chart, orders: Orders, hook: Hook, tcas: tuple[MedicationFact, ...]
) -> tuple[tuple[Alternative, ...], tuple[Exclusion, ...], tuple[MedicationFact, ...]]:
    """An SNRI instead of the TCAs: the swaps, the SNRIs left out, and the other TCAs in
    effect. A TCA already in effect is named on the card (the dose check sums it with the new
    one) and the swap stops it too."""
    beside = _other_tcas(orders, hook)
    alternatives, left_out = _replacements(chart, hook, tcas, SNRIS, beside)
    snris = tuple(m for m in (*orders.judged, *orders.alongside) if is_snri(m))
    if snris:
        # An SNRI is already there (current, or being ordered): the swap is to drop the TCA,
        # not to order a second SNRI.
        change = Change.STOP_CURRENT if hook is Hook.PATIENT_VIEW else Change.REMOVE
        drop = Alternative(
            change,
            removes=() if change is Change.STOP_CURRENT else tcas + _drafts(beside),
            stops=tcas if change is Change.STOP_CURRENT else _current(beside),
            keeps=snris,
        )
        alternatives = (drop,)
    return alternatives, left_out, beside


def tca_and_heart(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    tcas = tuple(m for m in orders.judged if m.systemic_tca)
    if not tcas or not chart.heart:
        return []
    alternatives, left_out, beside = _snri_swaps(chart, orders, hook, tcas)
    severity = heart_severity(chart.heart, chart.today)
    return [
        Finding(
            Rule.TCA_HEART,
            severity,
            tcas,
            conditions=chart.heart,
            related=beside,
            alternatives=alternatives,
            left_out=tuple(e for e in left_out if e.reason is not Reason.CURRENT),
        )
    ]


def tca_dose(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    judged = tuple(m for m in orders.judged if m.systemic_tca)
    if not judged:
        return []
    every = judged + tuple(m for m in orders.alongside if m.systemic_tca)
    unknown = tuple(m for m in every if isinstance(m.dose, UnknownDose))
    known = tuple((m, m.dose) for m in every if isinstance(m.dose, DailyDose))
    total = sum(dose.mg_per_day for _, dose in known)
    if total >= TCA_DAILY_LIMIT_MG:
        return [
            Finding(Rule.TCA_DOSE, Severity.WARNING, judged, doses=known, total_mg_per_day=total)
        ]
    if unknown:
        # At selection the dose is often not written yet: a note, checked again at signing.
        severity = Severity.WARNING if hook is Hook.ORDER_SIGN else Severity.INFO
        return [
            Finding(Rule.TCA_DOSE_UNKNOWN, severity, unknown, doses=known, total_mg_per_day=total)
        ]
    return []


def tca_and_risk_factors(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    tcas = tuple(m for m in orders.judged if m.systemic_tca)
    if not tcas or not chart.risk_factors:
        return []
    alternatives, left_out, beside = _snri_swaps(chart, orders, hook, tcas)
    return [
        Finding(
            Rule.TCA_CV_RISK,
            Severity.INFO,
            tcas,
            conditions=chart.risk_factors,
            related=beside,
            alternatives=alternatives,
            left_out=left_out,
        )
    ]


def tca_and_snri_stacked(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    """An SNRI ordered while a TCA is current (or ordered with it), or the reverse: they are
    alternatives, never stacked. The fix is the switch: the new agent stays, the other stops."""
    judged_tcas = tuple(m for m in orders.judged if m.systemic_tca)
    judged_snris = tuple(m for m in orders.judged if is_snri(m))
    other_tcas = tuple(m for m in orders.alongside if m.systemic_tca)
    other_snris = tuple(m for m in orders.alongside if is_snri(m))
    if not (judged_snris and (judged_tcas or other_tcas)) and not (judged_tcas and other_snris):
        return []
    # The switch goes towards the agent being ordered: it stays, the other one stops (or its
    # draft goes). Never towards a TCA when the heart is a concern.
    alternatives = []
    for keep, drop_judged, drop_other in (
        (judged_snris, judged_tcas, other_tcas),
        (() if chart.heart else judged_tcas, judged_snris, other_snris),
    ):
        if keep and (drop_judged or drop_other):
            alternatives.append(
                Alternative(
                    Change.REMOVE if drop_judged else Change.STOP_CURRENT,
                    removes=drop_judged + tuple(m for m in drop_other if not m.current),
                    stops=tuple(m for m in drop_other if m.current),
                    keeps=keep,
                )
            )
    judged = judged_tcas + judged_snris
    related = other_tcas + other_snris
    return [
        Finding(
            Rule.TCA_SNRI_STACKED,
            Severity.WARNING,
            judged,
            related=related,
            alternatives=tuple(alternatives),
            conditions=chart.heart,
        )
    ]


def opioid(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    # Opioid agonist treatment of an opioid use disorder is not an opioid for pain (§2).
    opioids = tuple(
        m
        for m in orders.judged
        if TherapyClass.OPIOID in m.classes and not chart.is_agonist_treatment(m)
    )
    if not opioids:
        return []
    return [Finding(Rule.OPIOID, Severity.WARNING, opioids, related=chart.agonist_treatment)]


def long_term_opioid(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    span = long_term_use(chart.medications, chart.today)
    if span is None:
        return []
    return [
        Finding(
            Rule.LONG_TERM_OPIOID,
            Severity.WARNING,
            span.orders,
            since=span.start,
            until=span.end,
            days=span.days,
        )
    ]


def tertiary_amine_tca(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    tertiary = tuple(m for m in orders.judged if m.systemic_tca and Amine.TERTIARY in m.amines)
    if not tertiary:
        return []
    alternatives: tuple[Alternative, ...] = ()
    left_out: tuple[Exclusion, ...] = ()
    # The secondary amines are offered only where no heart or risk-factor card applies, so
    # the swap never raises a card of its own.
    if not chart.heart and not chart.risk_factors:
        alternatives, left_out = _replacements(chart, hook, tertiary, TCAS)
    return [
        Finding(
            Rule.TERTIARY_AMINE_TCA,
            Severity.INFO,
            tertiary,
            alternatives=alternatives,
            left_out=left_out,
        )
    ]


def splinting(chart: Chart, orders: Orders, hook: Hook) -> list[Finding]:
    """Avoid splinting the residual limb; a splint whose site is not stated may be one."""
    findings = []
    on_limb = tuple(s for s in orders.splints if s.site is SplintSite.RESIDUAL_LIMB)
    unstated = tuple(s for s in orders.splints if s.site is SplintSite.NOT_STATED)
    if on_limb:
        remove = Alternative(Change.REMOVE, removes=on_limb)
        findings.append(
            Finding(Rule.SPLINTING, Severity.WARNING, (), splints=on_limb, alternatives=(remove,))
        )
    if unstated:
        findings.append(Finding(Rule.SPLINTING, Severity.INFO, (), splints=unstated))
    return findings


Check = Callable[[Chart, Orders, Hook], list[Finding]]

# Precautions already true of the current medication, shown when the chart opens.
ON_CHART_OPEN: tuple[Check, ...] = (tca_and_heart, tca_dose, long_term_opioid)
# Checks on orders being selected or signed.
ON_ORDER: tuple[Check, ...] = (
    tca_and_heart,
    tca_dose,
    tca_and_risk_factors,
    tca_and_snri_stacked,
    opioid,
    tertiary_amine_tca,
    splinting,
)


def evaluate(chart: Chart, orders: Orders, hook: Hook, checks: tuple[Check, ...]) -> list[Finding]:
    if not chart.facts.in_scope:
        return []
    return [finding for check in checks for finding in check(chart, orders, hook)]
