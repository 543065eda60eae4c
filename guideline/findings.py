"""What the guideline concludes, in final form: `cards/` words it and decides nothing clinical.

A `Finding` is one precaution (GUIDELINE §4) for one hook: its severity, the orders and facts
it is about, and the alternatives to offer, each already checked against the patient (never
an agent the patient takes, has tried or does not tolerate; never a TCA for a heart at risk).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from facts.allergies import AllergyFact
from facts.conditions import ConditionFact
from facts.dose import DailyDose
from facts.medications import MedicationFact
from facts.orders import SplintOrder
from guideline.therapies import Therapy


class Severity(StrEnum):
    """The one severity scale, ordered as CDS Hooks indicators are."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for the most serious, so that sorting puts it first."""
        return {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


class Hook(StrEnum):
    """When the guideline is asked: what is judged, and how firmly, depends on it."""

    PATIENT_VIEW = "patient-view"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


class Rule(StrEnum):
    TCA_HEART = "tca-heart"
    TCA_DOSE = "tca-dose"
    TCA_DOSE_UNKNOWN = "tca-dose-unknown"
    TCA_CV_RISK = "tca-cv-risk"
    TCA_SNRI_STACKED = "tca-snri-stacked"
    OPIOID = "opioid"
    LONG_TERM_OPIOID = "long-term-opioid"
    TERTIARY_AMINE_TCA = "tertiary-amine-tca"
    SPLINTING = "splinting"


class Reason(StrEnum):
    """Why a therapy the guideline names is not offered."""

    CURRENT = "current"  # the patient already takes it
    TRIED = "tried"  # an order for it was tried before
    ALLERGY = "allergy"  # an allergy or intolerance to it, or to its class, is recorded
    HEART = "heart"  # a TCA, and the heart is a concern


@dataclass(frozen=True, slots=True)
class Exclusion:
    therapy: Therapy
    reason: Reason
    orders: tuple[MedicationFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()


class Change(StrEnum):
    """The shape of a one-click alternative."""

    # Delete the draft orders and create the therapy instead (order hooks).
    REPLACE = "replace"
    # Create the therapy, then stop the current orders: the TCA↔SNRI switch (GUIDELINE §3).
    SWITCH = "switch"
    # Stop the current orders: the draft being signed already is the new agent.
    STOP_CURRENT = "stop-current"
    # Delete the draft orders, nothing in their place.
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Alternative:
    change: Change
    therapy: Therapy | None = None  # what is created (REPLACE, SWITCH)
    removes: tuple[MedicationFact | SplintOrder, ...] = ()  # drafts deleted
    stops: tuple[MedicationFact, ...] = ()  # current orders set to `stopped`
    keeps: tuple[MedicationFact, ...] = ()  # the drafts that stay (STOP_CURRENT, REMOVE)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    severity: Severity
    orders: tuple[MedicationFact, ...]
    conditions: tuple[ConditionFact, ...] = ()
    doses: tuple[tuple[MedicationFact, DailyDose], ...] = ()
    total_mg_per_day: float | None = None
    splints: tuple[SplintOrder, ...] = ()
    # Orders it is about besides the judged ones: the stacked partner, opioid agonist treatment.
    related: tuple[MedicationFact, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    # Alternatives the guideline names that are not offered, and why.
    left_out: tuple[Exclusion, ...] = ()
    # Long-term opioid use: the span of continuous use and its length.
    since: date | None = None
    until: date | None = None
    days: int | None = None
