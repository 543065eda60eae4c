"""Everything the guideline reads about one patient, with no FHIR left in it."""

from __future__ import annotations

from dataclasses import dataclass

from facts.allergies import AllergyFact
from facts.classes import ConditionClass
from facts.conditions import ConditionFact
from facts.medications import MedicationFact
from facts.observations import PainScore

CONDUCTION_FINDINGS = frozenset(
    {
        ConditionClass.CONDUCTION_ABNORMALITY,
        ConditionClass.AV_BLOCK_FIRST_DEGREE,
        ConditionClass.AV_BLOCK_SECOND_DEGREE,
        ConditionClass.AV_BLOCK_HIGH_GRADE,
        ConditionClass.VENTRICULAR_CONDUCTION_BLOCK,
        ConditionClass.PRE_EXCITATION,
        ConditionClass.LONG_QT,
    }
)


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

    @property
    def conduction(self) -> tuple[ConditionFact, ...]:
        """Version 1's "conduction abnormality" (AV block, bundle branch or fascicular block,
        pre-excitation, long QT), read from the version 2 findings; the guideline's v2 grading
        reads the findings themselves."""
        return tuple(c for c in self.heart if c.classes & CONDUCTION_FINDINGS)
