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

from functools import lru_cache
from typing import Any

import orjson

from facts.allergies import AllergyFact
from facts.classes import TherapyClass
from fhir_mappings.code_tables import normalise
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

Allergen = tuple[frozenset[str], frozenset[TherapyClass]]
_NONE: Allergen = (frozenset(), frozenset())


def allergy_fact(allergy: JsonObject, terminology: Terminology | None = None) -> AllergyFact | None:
    """The agents and classes an AllergyIntolerance names, or None when it names none."""
    terminology = terminology or builtin()
    concepts = [allergy.get("code"), *(r.get("substance") for r in objs(allergy.get("reaction")))]
    ingredients: set[str] = set()
    classes: set[TherapyClass] = set()
    for concept in concepts:
        named, named_classes = _allergen(_key(concept), terminology)
        ingredients |= named
        classes |= named_classes
    if not ingredients and not classes:
        return None
    verification = status_code(allergy.get("verificationStatus"))
    clinical = status_code(allergy.get("clinicalStatus"))
    return AllergyFact(
        reference=reference_of(allergy),
        label=concept_label(allergy.get("code")) or "allergy or intolerance",
        ingredients=frozenset(ingredients),
        classes=frozenset(classes),
        live=verification not in DISCOUNTED_VERIFICATION and clinical not in ENDED_CLINICAL,
    )


def _key(concept: Any) -> bytes:
    return orjson.dumps(concept) if isinstance(concept, dict) else b"null"


# Allergy lists repeat the same few allergens: read each concept once per terminology.
@lru_cache(maxsize=2048)
def _allergen(key: bytes, terminology: Terminology) -> Allergen:
    concept = obj(orjson.loads(key))
    ingredients: set[str] = set()
    classes: set[TherapyClass] = set()
    for system, code in codings(concept):
        if system == RXNORM and code in terminology.clinical_drugs:
            ingredients |= set(terminology.clinical_drugs[code].ingredients)
            continue
        entry = terminology.drug_codes.lookup(system, code)
        if entry is None:
            continue
        named = _named(entry.concepts, terminology)
        ingredients |= named[0]
        if entry.family and normalise(system, code) != normalise(system, entry.code):
            # A member of a class group that is not listed by name: that one agent.
            ingredients.add(f"ATC {normalise(system, code)}")
        else:
            classes |= named[1]
    if ingredients or classes:
        return frozenset(ingredients), frozenset(classes)
    displays = " ; ".join(
        d for d in (text(c.get("display")) for c in objs(concept.get("coding"))) if d
    )
    for words in (displays, text(concept.get("text")) or ""):
        named = _named(terminology.allergen_text.find(words), terminology)
        if named[0] or named[1]:
            return named
    return _NONE


def _named(concepts: frozenset[str], terminology: Terminology) -> Allergen:
    return (
        frozenset(c for c in concepts if c in terminology.ingredients),
        frozenset(
            TherapyClass(c.removeprefix(CLASS_PREFIX))
            for c in concepts
            if c.startswith(CLASS_PREFIX)
        ),
    )
