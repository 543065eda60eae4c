"""An allergy or intolerance to an agent or a class the guideline names (GUIDELINE §3)."""

from __future__ import annotations

from dataclasses import dataclass

from facts.classes import TherapyClass


@dataclass(frozen=True, slots=True)
class AllergyFact:
    reference: str
    label: str
    # The agents named (ingredient keys) and the classes named as a class ("tricyclic
    # antidepressants"); intolerance is per agent unless the record names the class.
    ingredients: frozenset[str]
    classes: frozenset[TherapyClass]
    # Not refuted, not entered-in-error, not resolved.
    live: bool
    # The classes of the agents named, where the mapping knows them (an imipramine intolerance
    # is a TCA tried), as opposed to `classes`, the classes the record names as a class.
    agent_classes: frozenset[TherapyClass] = frozenset()
