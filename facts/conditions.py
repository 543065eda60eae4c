"""A condition as the guideline sees it."""

from __future__ import annotations

from dataclasses import dataclass

from facts.classes import ConditionClass


@dataclass(frozen=True, slots=True)
class ConditionFact:
    reference: str
    label: str
    classes: frozenset[ConditionClass]
    live: bool
