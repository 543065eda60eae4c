"""AllergyIntolerance → the agents or classes a patient did not tolerate (GUIDELINE §3).

The allergen is read from `code` and from each `reaction.substance`, like a medication
(GUIDELINE §6): RxNorm ingredient and clinical drug codes, ATC codes (a group code such as
N06AA names the class), a site's local codes, then the codings' displays, then the text,
generic and brand names alike, and the class words an allergy list uses ("tricyclic
antidepressants", "TCAs", "SNRIs", "gabapentinoids", "opioids"). terminology.md verifies no
SNOMED CT substance or product code for these agents, so none is recognised by code; their
displays and text are read instead. The text is read with negation ("no known allergy to
codeine" names nothing).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from facts.allergies import AllergyFact
from facts.classes import TherapyClass
from fhir_mappings.code_tables import normalise
from fhir_mappings.content_cache import concept_cache
from fhir_mappings.json_access import (
    JsonObject,
    codings,
    concept_label,
    obj,
    objs,
    reference_of,
    status_code,
    text,
)
from fhir_mappings.terminology import CLASS_PREFIX, RXNORM, Terminology, builtin

DISCOUNTED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
ENDED_CLINICAL = frozenset({"inactive", "resolved"})


@dataclass(frozen=True, slots=True)
class Allergen:
    """What one concept of an allergy names."""

    ingredients: frozenset[str] = frozenset()
    # The classes named as a class ("tricyclic antidepressants", an ATC group code).
    classes: frozenset[TherapyClass] = frozenset()
    # The classes of the agents named (imipramine: TCA), an unlisted ATC group member's too.
    agent_classes: frozenset[TherapyClass] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.ingredients or self.classes)

    def __or__(self, other: Allergen) -> Allergen:
        return Allergen(
            self.ingredients | other.ingredients,
            self.classes | other.classes,
            self.agent_classes | other.agent_classes,
        )


_NONE = Allergen()


def allergy_fact(allergy: JsonObject, terminology: Terminology | None = None) -> AllergyFact | None:
    """The agents and classes an AllergyIntolerance names, or None when it names none."""
    terminology = terminology or builtin()
    concepts = [allergy.get("code"), *(r.get("substance") for r in objs(allergy.get("reaction")))]
    named = _NONE
    for concept in concepts:
        named |= _allergen(concept, terminology)
    if not named:
        return None
    verification = status_code(allergy.get("verificationStatus"))
    clinical = status_code(allergy.get("clinicalStatus"))
    return AllergyFact(
        reference=reference_of(allergy),
        label=concept_label(allergy.get("code")) or "allergy or intolerance",
        ingredients=named.ingredients,
        classes=named.classes,
        agent_classes=named.agent_classes,
        live=verification not in DISCOUNTED_VERIFICATION and clinical not in ENDED_CLINICAL,
    )


# Allergy lists repeat the same few allergens: read each concept once per terminology.
@concept_cache(maxsize=2048)
def _allergen(value: Any, terminology: Terminology) -> Allergen:
    concept = obj(value)
    found = _NONE
    for system, code in codings(concept):
        if system == RXNORM and code in terminology.clinical_drugs:
            found |= _named(terminology.clinical_drugs[code].ingredients, terminology)
            continue
        entry = terminology.drug_codes.lookup(system, code)
        if entry is None:
            continue
        named = _named(entry.concepts, terminology)
        if entry.family and normalise(system, code) != normalise(system, entry.code):
            # A member of a class group that is not listed by name: that one agent, of the
            # group's class.
            member = f"ATC {normalise(system, code)}"
            found |= Allergen(frozenset({member}), agent_classes=named.classes)
        else:
            found |= named
    if found:
        return found
    displays = " ; ".join(
        d for d in (text(c.get("display")) for c in objs(concept.get("coding"))) if d
    )
    for words in (displays, text(concept.get("text")) or ""):
        named = _named(terminology.allergen_text.find(words), terminology)
        if named:
            return named
    return _NONE


def _named(concepts: Collection[str], terminology: Terminology) -> Allergen:
    ingredients = frozenset(c for c in concepts if c in terminology.ingredients)
    return Allergen(
        ingredients,
        frozenset(
            TherapyClass(c.removeprefix(CLASS_PREFIX))
            for c in concepts
            if c.startswith(CLASS_PREFIX)
        ),
        frozenset(terminology.ingredients[i].therapy_class for i in ingredients),
    )
