"""GUIDELINE §4: the precautions, each a small rule over the orders being judged.

`judged` are the orders the prescriber is acting on (the selected drafts at order-select,
every draft at order-sign, the active medications at patient-view); `alongside` are the
other orders in effect at the same time (other drafts, active medications not replaced).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from facts.classes import Amine, TherapyClass
from facts.conditions import ConditionFact
from facts.dose import DailyDose, UnknownDose
from facts.medications import MedicationFact
from facts.orders import SplintOrder, SplintSite
from facts.patient import PatientFacts

TCA_DAILY_LIMIT_MG = 100.0  # "dosages preferably kept below 100 mg/day"


class Rule(StrEnum):
    TCA_HEART = "tca-heart"
    TCA_DOSE = "tca-dose"
    TCA_DOSE_UNKNOWN = "tca-dose-unknown"
    TCA_CV_RISK = "tca-cv-risk"
    OPIOID = "opioid"
    TERTIARY_AMINE_TCA = "tertiary-amine-tca"
    SPLINTING = "splinting"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    severity: Severity
    orders: tuple[MedicationFact, ...]
    conditions: tuple[ConditionFact, ...] = ()
    doses: tuple[tuple[MedicationFact, DailyDose], ...] = ()
    total_mg_per_day: float | None = None
    splints: tuple[SplintOrder, ...] = ()


@dataclass(frozen=True, slots=True)
class Orders:
    judged: tuple[MedicationFact, ...]
    alongside: tuple[MedicationFact, ...] = ()
    splints: tuple[SplintOrder, ...] = ()


def tca_and_heart(facts: PatientFacts, orders: Orders) -> list[Finding]:
    tcas = tuple(m for m in orders.judged if m.systemic_tca)
    if not tcas or not facts.heart:
        return []
    severity = Severity.CRITICAL if facts.conduction else Severity.WARNING
    return [Finding(Rule.TCA_HEART, severity, tcas, facts.heart)]


def tca_dose(facts: PatientFacts, orders: Orders) -> list[Finding]:
    judged = tuple(m for m in orders.judged if m.systemic_tca)
    if not judged:
        return []
    every = judged + tuple(m for m in orders.alongside if m.systemic_tca)
    unknown = tuple(m for m in every if isinstance(m.dose, UnknownDose))
    known = tuple((m, m.dose) for m in every if isinstance(m.dose, DailyDose))
    total = sum(dose.mg_per_day for _, dose in known)
    findings = []
    if total > TCA_DAILY_LIMIT_MG:
        findings.append(
            Finding(Rule.TCA_DOSE, Severity.WARNING, judged, doses=known, total_mg_per_day=total)
        )
    elif unknown:
        findings.append(
            Finding(
                Rule.TCA_DOSE_UNKNOWN,
                Severity.WARNING,
                unknown,
                doses=known,
                total_mg_per_day=total,
            )
        )
    return findings


def tca_and_risk_factors(facts: PatientFacts, orders: Orders) -> list[Finding]:
    tcas = tuple(m for m in orders.judged if m.systemic_tca)
    if not tcas or facts.heart or not facts.risk_factors:
        return []
    return [Finding(Rule.TCA_CV_RISK, Severity.INFO, tcas, facts.risk_factors)]


def opioid(facts: PatientFacts, orders: Orders) -> list[Finding]:
    opioids = tuple(m for m in orders.judged if TherapyClass.OPIOID in m.classes)
    return [Finding(Rule.OPIOID, Severity.WARNING, opioids)] if opioids else []


def tertiary_amine_tca(facts: PatientFacts, orders: Orders) -> list[Finding]:
    tertiary = tuple(m for m in orders.judged if m.systemic_tca and Amine.TERTIARY in m.amines)
    return [Finding(Rule.TERTIARY_AMINE_TCA, Severity.INFO, tertiary)] if tertiary else []


def splinting(facts: PatientFacts, orders: Orders) -> list[Finding]:
    """Avoid splinting the residual limb; a splint whose site is not stated may be one."""
    findings = []
    on_limb = tuple(s for s in orders.splints if s.site is SplintSite.RESIDUAL_LIMB)
    unstated = tuple(s for s in orders.splints if s.site is SplintSite.NOT_STATED)
    if on_limb:
        findings.append(Finding(Rule.SPLINTING, Severity.WARNING, (), splints=on_limb))
    if unstated:
        findings.append(Finding(Rule.SPLINTING, Severity.INFO, (), splints=unstated))
    return findings


Check = Callable[[PatientFacts, Orders], list[Finding]]

# Precautions already true of the active medication, shown when the chart opens.
ON_CHART_OPEN: tuple[Check, ...] = (tca_and_heart, tca_dose)
# Checks on orders being selected or signed.
ON_ORDER: tuple[Check, ...] = (
    tca_and_heart,
    tca_dose,
    tca_and_risk_factors,
    opioid,
    tertiary_amine_tca,
    splinting,
)


def evaluate(facts: PatientFacts, orders: Orders, checks: tuple[Check, ...]) -> list[Finding]:
    if not facts.in_scope:
        return []
    return [finding for check in checks for finding in check(facts, orders)]
