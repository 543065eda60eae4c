"""A condition as the guideline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from facts.classes import ConditionClass


@dataclass(frozen=True, slots=True)
class ConditionFact:
    reference: str
    label: str
    classes: frozenset[ConditionClass]
    # GUIDELINE §1: clinical status live (or absent), not refuted/entered-in-error, no past
    # abatement. `remission` and `ended` are kept apart because §1 lets a past MI and an
    # opioid use disorder in remission keep counting.
    live: bool
    ended: bool = False
    remission: bool = False
    onset: date | None = None
    recorded: date | None = None
