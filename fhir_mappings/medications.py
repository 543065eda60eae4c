"""MedicationRequest / MedicationStatement → what was ordered, its class, route and dose.

Identity is read, in order of trust, from RxNorm clinical/branded drug codes, RxNorm
ingredient codes, ATC codes (exact, then group), the ingredients of a referenced Medication,
and last from free text. Route decides whether a TCA is systemic (GUIDELINE §3: a topical
amitriptyline compound is not a systemic TCA).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from facts.classes import TherapyClass
from facts.dose import DailyDose, UnknownDose
from facts.medications import (
    Interval,
    MedicationFact,
)
from fhir_mappings.dose import daily_dose
from fhir_mappings.json_access import (
    JsonObject,
    codings,
    concept_label,
    concept_words,
    number,
    obj,
    objs,
    reference_of,
    text,
)
from fhir_mappings.periods import order_period
from fhir_mappings.terminology import (
    ATC,
    ATC_CLASS_PREFIXES,
    ATC_CODES,
    CLINICAL_DRUGS,
    INGREDIENTS,
    RXNORM,
    RXNORM_INGREDIENTS,
    TEXT_NAMES,
    ClinicalDrug,
    Form,
)

# Words for a preparation applied to the skin for a local effect. "Transdermal" is not here:
# a transdermal system (fentanyl, buprenorphine) is absorbed systemically.
_TOPICAL_WORDS = re.compile(
    r"\b(topical|topically|cutaneous|cream|gel|ointment|lotion|medicated patch|plaster)\b"
)
_PATCH = re.compile(r"\bpatch(es)?\b")
_TRANSDERMAL = re.compile(r"\btransdermal\b")
# One pass over the text for every known name, longest first.
_NAMES = re.compile(r"\b(" + "|".join(sorted(TEXT_NAMES, key=len, reverse=True)) + r")\b")
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|µg|ug|g)\b")
_STRENGTH_FACTOR = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001}
_TOPICAL_COMPOUND_PARTS = frozenset({"ketamine"}) | {
    name for name, i in INGREDIENTS.items() if i.therapy_class is TherapyClass.TCA
}


@dataclass(slots=True)
class _Identity:
    ingredients: list[str]
    drug: ClinicalDrug | None = None
    strength_mg: float | None = None
    rxnorm_code: str | None = None
    words: str = ""
    group_classes: set[TherapyClass] = field(default_factory=set)

    def add(self, ingredient: str) -> None:
        if ingredient not in self.ingredients:
            self.ingredients.append(ingredient)


def medication_fact(
    order: JsonObject, bundled: Mapping[str, JsonObject], status: str | None = None
) -> MedicationFact | None:
    """The fact for one order, or None when it names nothing the guideline knows."""
    medication = _referenced_medication(order, bundled)
    concept = order.get("medicationCodeableConcept")
    display = text(obj(order.get("medicationReference")).get("display"))
    if medication:
        identity = _identify(concept, medication, display)
    else:
        identity = _identify_concept(_concept_key(concept), display)
    if not identity.ingredients:
        return None
    topical = _is_topical(order, identity)
    classes = _classes(identity, topical)
    strength = identity.strength_mg
    if strength is None and identity.drug is not None and len(identity.drug.strengths_mg) == 1:
        strength = identity.drug.strengths_mg[0][1]
    if strength is None and len(identity.ingredients) == 1:
        strength = _strength_from_text(identity.words)
    status_value = status or text(order.get("status")) or "unknown"
    return MedicationFact(
        reference=reference_of(order),
        label=_label(order, medication, identity),
        ingredients=tuple(identity.ingredients),
        classes=classes,
        topical=topical,
        status=status_value,
        intent=text(order.get("intent")),
        in_use=_in_use(order, status_value),
        dose=_dose(order, identity, strength),
        rxnorm_code=identity.rxnorm_code,
        replaces=text(obj(order.get("priorPrescription")).get("reference")),
        amines=frozenset(
            amine
            for i in identity.ingredients
            if i in INGREDIENTS and (amine := INGREDIENTS[i].amine) is not None
        ),
    )


def _referenced_medication(order: JsonObject, bundled: Mapping[str, JsonObject]) -> JsonObject:
    reference = text(obj(order.get("medicationReference")).get("reference"))
    if not reference:
        return {}
    if reference.startswith("#"):
        for contained in objs(order.get("contained")):
            if f"#{contained.get('id')}" == reference:
                return contained
        return {}
    if reference in bundled:
        return bundled[reference]
    # An absolute reference to a Medication resolves by its last two path segments.
    tail = "/".join(reference.rstrip("/").split("/")[-2:])
    return bundled.get(tail, {})


def _concept_key(concept: Any) -> bytes:
    return orjson.dumps(concept) if isinstance(concept, dict) else b"null"


# A chart repeats the same few drugs across many orders: identify each coded concept once
# per process. Cached identities are shared, so nothing may change them afterwards.
@lru_cache(maxsize=4096)
def _identify_concept(key: bytes, display: str | None) -> _Identity:
    return _identify(orjson.loads(key), {}, display)


def _identify(concept: Any, medication: JsonObject, display: str | None) -> _Identity:
    identity = _Identity(ingredients=[])
    concepts = [concept, medication.get("code")]
    for each in concepts:
        _identify_codes(identity, each)
    ingredients = list(objs(medication.get("ingredient")))
    words = [concept_words(c) for c in concepts]
    words.append(display or "")
    words.append(concept_words(medication.get("form")))
    for ingredient in ingredients:
        item = ingredient.get("itemCodeableConcept")
        ingredient_words = (
            concept_words(item)
            + " "
            + (text(obj(ingredient.get("itemReference")).get("display")) or "")
        )
        words.append(ingredient_words)
        known = len(identity.ingredients)
        _identify_codes(identity, item)
        if len(identity.ingredients) == known:
            _identify_words(identity, ingredient_words.lower())
        if len(ingredients) == 1:
            identity.strength_mg = _ratio_mg(ingredient.get("strength"))
    identity.words = " ".join(w for w in words if w).lower()
    if not identity.ingredients:
        _identify_words(identity, identity.words)
    return identity


def _identify_words(identity: _Identity, words: str) -> None:
    for name in _NAMES.findall(words):
        identity.add(TEXT_NAMES[name])


def _identify_codes(identity: _Identity, concept: Any) -> None:
    for system, code in codings(concept):
        if system == RXNORM:
            drug = CLINICAL_DRUGS.get(code)
            if drug is not None:
                identity.drug = identity.drug or drug
                identity.rxnorm_code = identity.rxnorm_code or code
                for name in drug.ingredients:
                    identity.add(name)
            elif code in RXNORM_INGREDIENTS:
                identity.add(RXNORM_INGREDIENTS[code])
                identity.rxnorm_code = identity.rxnorm_code or code
        elif system == ATC:
            atc_name = ATC_CODES.get(code.upper())
            if atc_name is not None:
                identity.add(atc_name)
                continue
            for prefix, therapy_class in ATC_CLASS_PREFIXES.items():
                if code.upper().startswith(prefix):
                    # A member of a one-class group: its class is known, its name is not.
                    identity.add(f"ATC {code}")
                    identity.group_classes.add(therapy_class)


def _ratio_mg(strength: Any) -> float | None:
    numerator = obj(obj(strength).get("numerator"))
    denominator = obj(obj(strength).get("denominator"))
    value = number(numerator.get("value"))
    unit = (text(numerator.get("code")) or text(numerator.get("unit")) or "").lower()
    if value is None or unit not in _STRENGTH_FACTOR:
        return None
    if number(denominator.get("value")) not in (None, 1.0):
        return None
    return value * _STRENGTH_FACTOR[unit]


def _strength_from_text(words: str) -> float | None:
    found = _STRENGTH.findall(words)
    if len(found) != 1:
        return None
    value, unit = found[0]
    return float(value) * _STRENGTH_FACTOR[unit]


def _is_topical(order: JsonObject, identity: _Identity) -> bool:
    if identity.drug is not None:
        return identity.drug.form is Form.TOPICAL_PATCH
    route_words = " ".join(
        concept_words(d.get("route")) for d in objs(order.get("dosageInstruction"))
    )
    route_words += " " + " ".join(
        concept_words(d.get("site")) for d in objs(order.get("dosageInstruction"))
    )
    words = f"{identity.words} {route_words.lower()}"
    if _TRANSDERMAL.search(words):
        return False
    # A plain "patch" is topical for lidocaine; for anything else (fentanyl, buprenorphine)
    # it is a transdermal system, absorbed systemically.
    lidocaine_patch = "lidocaine" in identity.ingredients and _PATCH.search(words)
    return bool(_TOPICAL_WORDS.search(words) or lidocaine_patch)


def _classes(identity: _Identity, topical: bool) -> frozenset[TherapyClass]:
    names = set(identity.ingredients)
    if topical:
        if names & _TOPICAL_COMPOUND_PARTS or TherapyClass.TCA in identity.group_classes:
            return frozenset({TherapyClass.TOPICAL_COMPOUND})
        if "lidocaine" in names:
            return frozenset({TherapyClass.TOPICAL_LIDOCAINE})
        return frozenset()
    classes = set(identity.group_classes)
    for name in names:
        ingredient = INGREDIENTS.get(name)
        # Lidocaine given any way but topically is outside the guideline.
        if (
            ingredient is not None
            and ingredient.therapy_class is not TherapyClass.TOPICAL_LIDOCAINE
        ):
            classes.add(ingredient.therapy_class)
    return frozenset(classes)


def _label(order: JsonObject, medication: JsonObject, identity: _Identity) -> str:
    return (
        concept_label(order.get("medicationCodeableConcept"))
        or text(obj(order.get("medicationReference")).get("display"))
        or concept_label(medication.get("code"))
        or (identity.drug.display if identity.drug else None)
        or ", ".join(identity.ingredients)
    )


def _dose(
    order: JsonObject, identity: _Identity, strength: float | None
) -> DailyDose | UnknownDose:
    if len(identity.ingredients) != 1 and identity.drug is None:
        return UnknownDose("a product with several ingredients")
    dosage = order.get("dosageInstruction", order.get("dosage"))
    return daily_dose(dosage, strength)


def _in_use(order: JsonObject, status: str) -> Interval | None:
    return order_period(order, status)
