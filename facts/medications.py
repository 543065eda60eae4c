"""A medication order as the guideline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from facts.classes import Amine, TherapyClass
from facts.dose import DailyDose, UnknownDose

# Statuses and intents per GUIDELINE §3 ("tried" and "current").
TRIED_STATUSES = frozenset({"active", "on-hold", "completed", "stopped"})
CURRENT_STATUSES = frozenset({"active", "on-hold"})
NOT_AN_ORDER_INTENTS = frozenset({"plan", "proposal", "option"})


@dataclass(frozen=True, slots=True)
class Interval:
    """When an order was in use; None on a side means open (unknown start, still running)."""

    start: date | None
    end: date | None


@dataclass(frozen=True, slots=True)
class MedicationFact:
    reference: str
    label: str
    ingredients: tuple[str, ...]
    classes: frozenset[TherapyClass]
    topical: bool
    status: str
    intent: str | None
    in_use: Interval | None
    dose: DailyDose | UnknownDose
    rxnorm_code: str | None = None
    # The active order a revised draft replaces (MedicationRequest.priorPrescription).
    replaces: str | None = None
    # Secondary or tertiary amine, for the TCAs (GUIDELINE §2 prefers secondary amines).
    amines: frozenset[Amine] = frozenset()
    # A product used for opioid agonist treatment of opioid use disorder (GUIDELINE §2):
    # buprenorphine sublingual/buccal-with-naloxone/extended-release injection, or methadone.
    # Whether it *is* agonist treatment depends on the patient's diagnosis: the guideline decides.
    agonist_treatment_product: bool = False

    @property
    def counts_as_order(self) -> bool:
        return self.intent not in NOT_AN_ORDER_INTENTS

    @property
    def tried(self) -> bool:
        return self.counts_as_order and self.status in TRIED_STATUSES

    @property
    def current(self) -> bool:
        return self.counts_as_order and self.status in CURRENT_STATUSES

    @property
    def systemic_tca(self) -> bool:
        return TherapyClass.TCA in self.classes and not self.topical
