"""The patient's facts: everything the guideline reads, with no FHIR left in it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import TypeVar

from facts.medications import MedicationFact
from facts.patient import PatientFacts
from fhir_mappings.allergies import allergy_fact
from fhir_mappings.conditions import (
    concerns_heart,
    condition_fact,
    in_scope,
    is_opioid_use_disorder,
    is_risk_factor,
)
from fhir_mappings.json_access import JsonObject
from fhir_mappings.medications import medication_fact
from fhir_mappings.observations import pain_scores
from fhir_mappings.resources import ResourceSet
from fhir_mappings.terminology import Terminology, builtin

log = logging.getLogger(__name__)
Fact = TypeVar("Fact")


def patient_facts(
    resources: ResourceSet,
    terminology: Terminology | None = None,
    today: date | None = None,
    *,
    pain_scores_obtained: bool = True,
    allergies_obtained: bool = True,
) -> PatientFacts:
    """The facts of one chart. `terminology` defaults to the built-in tables and `today` to
    the date today (a Condition whose abatement lies after it has not ended). The caller
    says whether the optional data was had at all: scores that could not be obtained are
    None, not an empty record."""
    terminology = terminology or builtin()
    today = today or date.today()
    conditions = [
        f
        for f in _each(resources.conditions, lambda c: condition_fact(c, terminology, today))
        if f is not None
    ]
    allergies = [
        f
        for f in _each(resources.allergies, lambda a: allergy_fact(a, terminology))
        if f is not None
    ]
    return PatientFacts(
        phantom_limb_pain=tuple(c for c in conditions if in_scope(c)),
        heart=tuple(c for c in conditions if concerns_heart(c)),
        risk_factors=tuple(c for c in conditions if is_risk_factor(c)),
        medications=medication_facts(
            resources.medication_orders, resources.medications, terminology
        ),
        opioid_use_disorder=tuple(c for c in conditions if is_opioid_use_disorder(c)),
        allergies=tuple(allergies),
        pain_scores=pain_scores(resources.observations) if pain_scores_obtained else None,
        allergies_available=allergies_obtained,
    )


def medication_facts(
    orders: Iterable[JsonObject],
    bundled: Mapping[str, JsonObject],
    terminology: Terminology | None = None,
) -> tuple[MedicationFact, ...]:
    facts = _each(orders, lambda order: medication_fact(order, bundled, terminology=terminology))
    return tuple(f for f in facts if f is not None)


def _each(
    resources: Iterable[JsonObject], read: Callable[[JsonObject], Fact | None]
) -> Iterator[Fact | None]:
    """Apply a reader to each resource; a resource too malformed to read is skipped."""
    for resource in resources:
        try:
            yield read(resource)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            log.warning(
                "skipped malformed %s: %s", resource.get("resourceType"), type(error).__name__
            )
