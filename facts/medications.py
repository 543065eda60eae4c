"""A medication order as the guideline sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # Read from status and intent once: the guideline asks each of them about every order
    # several times a call (86 times for the typical chart's 10 guideline orders).
    counts_as_order: bool = field(init=False, repr=False, compare=False)
    tried: bool = field(init=False, repr=False, compare=False)
    current: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = self.intent not in NOT_AN_ORDER_INTENTS
        object.__setattr__(self, "counts_as_order", counts)
        object.__setattr__(self, "tried", counts and self.status in TRIED_STATUSES)
        object.__setattr__(self, "current", counts and self.status in CURRENT_STATUSES)

    @property
    def systemic_tca(self) -> bool:
        return TherapyClass.TCA in self.classes and not self.topical
