"""Everything the guideline reads about one patient, with no FHIR left in it."""

from __future__ import annotations

from dataclasses import dataclass

from facts.classes import ConditionClass
from facts.conditions import ConditionFact
from facts.medications import MedicationFact


@dataclass(frozen=True, slots=True)
class PatientFacts:
    phantom_limb_pain: tuple[ConditionFact, ...]
    heart: tuple[ConditionFact, ...]
    risk_factors: tuple[ConditionFact, ...]
    medications: tuple[MedicationFact, ...]

    @property
    def in_scope(self) -> bool:
        return bool(self.phantom_limb_pain)

    @property
    def reason_reference(self) -> str | None:
        """The phantom limb pain Condition a suggested order can cite, when it has an id."""
        return next((c.reference for c in self.phantom_limb_pain if "/" in c.reference), None)

    @property
    def conduction(self) -> tuple[ConditionFact, ...]:
        return tuple(c for c in self.heart if ConditionClass.CONDUCTION_ABNORMALITY in c.classes)
