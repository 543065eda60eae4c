"""Everything the guideline reads about one patient, with no FHIR left in it."""

from __future__ import annotations

from dataclasses import dataclass

from facts.allergies import AllergyFact
from facts.conditions import ConditionFact
from facts.medications import MedicationFact
from facts.observations import PainScore


@dataclass(frozen=True, slots=True)
class PatientFacts:
    phantom_limb_pain: tuple[ConditionFact, ...]
    heart: tuple[ConditionFact, ...]
    risk_factors: tuple[ConditionFact, ...]
    medications: tuple[MedicationFact, ...]
    opioid_use_disorder: tuple[ConditionFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    # Most recent first. None when the scores could not be obtained at all (no prefetch, no
    # server): the card then says they were not available, not that none exist.
    pain_scores: tuple[PainScore, ...] | None = None
    # False when the AllergyIntolerances could not be obtained (not prefetched and no usable
    # FHIR server): `allergies` is then empty for want of data, not because there are none.
    allergies_available: bool = True

    @property
    def in_scope(self) -> bool:
        return bool(self.phantom_limb_pain)

    @property
    def reason_reference(self) -> str | None:
        """The phantom limb pain Condition a suggested order can cite, when it has an id."""
        return next((c.reference for c in self.phantom_limb_pain if "/" in c.reference), None)
