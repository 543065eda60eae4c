"""MedicationRequest / MedicationStatement → what was ordered, its class, route and dose.

Identity is read (GUIDELINE §6), in order: codes (RxNorm clinical/branded drug, RxNorm
ingredient, ATC exactly or by group, a site's local codes; on the order's concept, a
referenced Medication and its ingredients), then the codings' displays, then free text (the
concept's text, the reference's display, the Medication's text), generic and brand names
alike (`fhir_mappings/data/medications.csv`). Route decides whether a TCA is systemic
(GUIDELINE §3: a topical amitriptyline compound is not a systemic TCA).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from facts.classes import TherapyClass
from facts.dose import DailyDose, UnknownDose
from facts.medications import NOT_AN_ORDER_INTENTS, TRIED_STATUSES, Interval, MedicationFact
from fhir_mappings.code_tables import RXNORM, normalise
from fhir_mappings.content_cache import concept_cache, content_cache, resource_cache
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
from fhir_mappings.measures import dose_units
from fhir_mappings.periods import order_period
from fhir_mappings.terminology import (
    CLASS_PREFIX,
    OAT_PRODUCT,
    PAIN_PRODUCT,
    PATCH,
    PRODUCT_WORDS,
    TOPICAL,
    TRANSDERMAL,
    AgonistTreatment,
    ClinicalDrug,
    Form,
    Terminology,
    builtin,
)

# "5/325 mg": a combination product's strengths, which one is the opioid's is not said.
_COMBINED_STRENGTH = re.compile(r"\d\s*(?:mg)?\s*/\s*\d")


@cache
def _strength_pattern() -> re.Pattern[str]:
    """A strength in words ("25mg", "0.5 g"), in the mass units of dose_units.csv."""
    units = sorted({u.lower() for u in dose_units().mg_per_unit}, key=len, reverse=True)
    return re.compile(rf"(\d+(?:\.\d+)?)\s*({'|'.join(map(re.escape, units))})\b")


@dataclass(frozen=True, slots=True)
class Identity:
    """What an order names, before its route and dose are read. Frozen: it is cached."""

    ingredients: tuple[str, ...]
    drug: ClinicalDrug | None = None
    strength_mg: float | None = None
    rxnorm_code: str | None = None
    # Every word of the order's concept and Medication, and what they say of route and product.
    words: str = ""
    product_words: frozenset[str] = frozenset()
    # Classes known from an ATC group whose member is not listed by name.
    group_classes: frozenset[TherapyClass] = frozenset()


@dataclass(slots=True)
class _Found:
    """Collects an identity while codes and words are read (never cached)."""

    ingredients: list[str]
    drug: ClinicalDrug | None = None
    rxnorm_code: str | None = None
    product_words: set[str] | None = None
    group_classes: set[TherapyClass] | None = None

    def add(self, ingredient: str) -> None:
        if ingredient not in self.ingredients:
            self.ingredients.append(ingredient)

    def add_concepts(self, concepts: Iterable[str], terminology: Terminology) -> None:
        for concept in concepts:
            if concept in terminology.ingredients:
                self.add(concept)
            elif concept in PRODUCT_WORDS:
                self.product_words = (self.product_words or set()) | {concept}


def medication_fact(
    order: JsonObject,
    bundled: Mapping[str, JsonObject],
    status: str | None = None,
    terminology: Terminology | None = None,
) -> MedicationFact | None:
    """The fact for one order, or None when it names nothing the guideline knows."""
    terminology = terminology or builtin()
    if status is None and "medicationReference" not in order:
        # The fact is then a function of the order alone. Most orders name nothing the
        # guideline knows, which the (cached) identity of their concept says at once; for
        # the others, the fact of the same order in the last call is reused.
        identity = _identify_concept(order.get("medicationCodeableConcept"), None, terminology)
        if not identity.ingredients:
            return None
        return _order_fact(order, terminology)
    return _read_fact(order, bundled, status, terminology)


# Each hook call sends the chart again (patient-view, then order-select as each drug is
# picked, then order-sign): a guideline drug's order is read once per process and
# terminology, keyed by its whole JSON. The fact is frozen, so sharing it is safe.
@resource_cache(maxsize=4096)
def _order_fact(order: JsonObject, terminology: Terminology) -> MedicationFact | None:
    return _read_fact(order, {}, None, terminology)


def _read_fact(
    order: JsonObject,
    bundled: Mapping[str, JsonObject],
    status: str | None,
    terminology: Terminology,
) -> MedicationFact | None:
    medication = _referenced_medication(order, bundled)
    concept = order.get("medicationCodeableConcept")
    display = text(obj(order.get("medicationReference")).get("display"))
    if medication:
        identity = identify(concept, medication, display, terminology)
    else:
        identity = _identify_concept(concept, display, terminology)
    if not identity.ingredients:
        return None
    route = _route_words(order, terminology)
    topical = _is_topical(identity, route)
    classes = _classes(identity, topical, terminology)
    strength = identity.strength_mg
    if strength is None and identity.drug is not None and len(identity.drug.strengths_mg) == 1:
        strength = identity.drug.strengths_mg[0][1]
    if strength is None and len(identity.ingredients) == 1:
        strength = _strength_from_text(identity.words)
    status_value = status or text(order.get("status")) or "unknown"
    return MedicationFact(
        reference=reference_of(order),
        label=_label(order, medication, identity),
        ingredients=identity.ingredients,
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
            if i in terminology.ingredients
            and (amine := terminology.ingredients[i].amine) is not None
        ),
        agonist_treatment_product=_agonist_treatment_product(identity, route, terminology),
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


@dataclass(frozen=True, slots=True)
class UnseenDrug:
    """An order whose drug the data does not show: it names it only by a reference to a
    Medication that is neither contained nor bundled, with no display to read instead."""

    order: str  # "MedicationRequest/id"
    medication: str  # the reference as the order gives it


def unseen_drugs(
    orders: Iterable[JsonObject], bundled: Mapping[str, JsonObject], *, drafts: bool = False
) -> tuple[UnseenDrug, ...]:
    """The orders the guideline reads whose drug cannot be known from the data: the
    recorded orders that count as tried or current (GUIDELINE §3), or every draft order.
    Such an order could be a TCA or an opioid; leaving it out would be advice from part of
    the chart."""
    unseen = []
    for order in orders:
        if not drafts and not _counts(order):
            continue
        reference = obj(order.get("medicationReference"))
        target = text(reference.get("reference"))
        if not target or text(reference.get("display")) or _referenced_medication(order, bundled):
            continue
        unseen.append(UnseenDrug(reference_of(order), target))
    return tuple(unseen)


def _counts(order: JsonObject) -> bool:
    return (
        text(order.get("status")) in TRIED_STATUSES
        and text(order.get("intent")) not in NOT_AN_ORDER_INTENTS
    )


# A chart repeats the same few drugs across many orders: identify each coded concept once
# per process and terminology. The identity is frozen, so sharing it is safe.
@concept_cache(maxsize=4096)
def _identify_concept(concept: Any, display: str | None, terminology: Terminology) -> Identity:
    return identify(concept, {}, display, terminology)


def identify(
    concept: Any, medication: JsonObject, display: str | None, terminology: Terminology
) -> Identity:
    """What a medication concept (and the Medication it references) names."""
    found = _Found(ingredients=[])
    concepts = [concept, medication.get("code")]
    for each in concepts:
        _identify_codes(found, each, terminology)
    ingredients = list(objs(medication.get("ingredient")))
    strength = None
    texts = [text(obj(c).get("text")) for c in concepts]
    texts.append(display)
    displays = [_displays(c) for c in concepts]
    for ingredient in ingredients:
        item = ingredient.get("itemCodeableConcept")
        item_words = " ".join(
            w
            for w in (
                concept_words(item),
                text(obj(ingredient.get("itemReference")).get("display")),
            )
            if w
        )
        texts.append(item_words)
        known = len(found.ingredients)
        _identify_codes(found, item, terminology)
        if len(found.ingredients) == known:
            found.add_concepts(terminology.drug_text.find(item_words), terminology)
        if len(ingredients) == 1:
            strength = _ratio_mg(ingredient.get("strength"))
    form = concept_words(medication.get("form"))
    words = " ; ".join(w for w in [*texts, *displays, form] if w)
    if not found.ingredients:
        # Codes named nothing: the displays, then the free text.
        from_displays = terminology.drug_text.find(" ; ".join(d for d in displays if d))
        found.add_concepts(from_displays, terminology)
        if not found.ingredients:
            found.add_concepts(
                terminology.drug_text.find(" ; ".join(t for t in texts if t)), terminology
            )
    product_words = (found.product_words or set()) | (
        terminology.drug_text.find(" ; ".join([words, found.drug.display if found.drug else ""]))
        & PRODUCT_WORDS
    )
    return Identity(
        ingredients=tuple(found.ingredients),
        drug=found.drug,
        strength_mg=strength,
        rxnorm_code=found.rxnorm_code,
        words=words,
        product_words=frozenset(product_words),
        group_classes=frozenset(found.group_classes or ()),
    )


def _displays(concept: Any) -> str:
    return " ; ".join(
        d for d in (text(c.get("display")) for c in objs(obj(concept).get("coding"))) if d
    )


def _identify_codes(found: _Found, concept: Any, terminology: Terminology) -> None:
    for system, code in codings(concept):
        if system == RXNORM and code in terminology.clinical_drugs:
            drug = terminology.clinical_drugs[code]
            found.drug = found.drug or drug
            found.rxnorm_code = found.rxnorm_code or code
            for name in drug.ingredients:
                found.add(name)
            continue
        entry = terminology.drug_codes.lookup(system, code)
        if entry is None:
            continue
        named = [c for c in entry.concepts if c in terminology.ingredients]
        if system == RXNORM and named:
            found.rxnorm_code = found.rxnorm_code or code
        found.add_concepts(entry.concepts, terminology)
        groups = {
            TherapyClass(c.removeprefix(CLASS_PREFIX))
            for c in entry.concepts
            if c.startswith(CLASS_PREFIX)
        }
        if groups:
            # A member of a one-class group: its class is known, its name is not.
            found.add(f"ATC {normalise(system, code)}")
            found.group_classes = (found.group_classes or set()) | groups


def _ratio_mg(strength: Any) -> float | None:
    numerator = obj(obj(strength).get("numerator"))
    denominator = obj(obj(strength).get("denominator"))
    value = number(numerator.get("value"))
    unit = text(numerator.get("code")) or text(numerator.get("unit")) or ""
    factor = dose_units().mg(unit)
    if value is None or factor is None:
        return None
    if number(denominator.get("value")) not in (None, 1.0):
        return None
    return value * factor


# The same product's words come back with each of its orders: read each text once.
@content_cache(maxsize=4096)
def _strength_from_text(words: str) -> float | None:
    lowered = words.lower()
    if _COMBINED_STRENGTH.search(lowered):
        return None
    # EHRs send the same name as code.text and as the coding's display, so one strength may
    # be written twice; two different strengths cannot be told apart.
    units = dose_units()
    strengths = {
        float(value) * factor
        for value, unit in _strength_pattern().findall(lowered)
        if (factor := units.mg(unit)) is not None
    }
    return strengths.pop() if len(strengths) == 1 else None


def _route_words(order: JsonObject, terminology: Terminology) -> frozenset[str]:
    """What the order's route and site say of the product (topical, transdermal …)."""
    dosages = list(objs(order.get("dosageInstruction", order.get("dosage"))))
    words = " ; ".join(
        w
        for d in dosages
        for w in (concept_words(d.get("route")), concept_words(d.get("site")))
        if w
    )
    return _product_words(words, terminology) if words else frozenset()


# Orders repeat the same few routes ("Oral", "Topical"): read each once.
@content_cache(maxsize=1024)
def _product_words(words: str, terminology: Terminology) -> frozenset[str]:
    return terminology.drug_text.find(words) & PRODUCT_WORDS


def _is_topical(identity: Identity, route: frozenset[str]) -> bool:
    if identity.drug is not None:
        return identity.drug.form is Form.TOPICAL_PATCH
    said = identity.product_words | route
    if TRANSDERMAL in said:
        return False
    # A plain "patch" is topical for lidocaine; for anything else (fentanyl, buprenorphine)
    # it is a transdermal system, absorbed systemically.
    lidocaine_patch = "lidocaine" in identity.ingredients and PATCH in said
    return TOPICAL in said or lidocaine_patch


def _agonist_treatment_product(
    identity: Identity, route: frozenset[str], terminology: Terminology
) -> bool:
    """GUIDELINE §2: methadone, or buprenorphine sublingual (± naloxone), buccal with
    naloxone or as an extended-release injection; not Butrans or Belbuca (pain products)."""
    said = identity.product_words | route
    drug_form = identity.drug.form if identity.drug else None
    for name in identity.ingredients:
        ingredient = terminology.ingredients.get(name)
        if ingredient is None:
            continue
        if ingredient.agonist_treatment is AgonistTreatment.ALWAYS:
            return True
        if ingredient.agonist_treatment is AgonistTreatment.BY_PRODUCT:
            for_pain = bool(said & {PAIN_PRODUCT, TRANSDERMAL}) or drug_form is Form.TRANSDERMAL
            for_oud = OAT_PRODUCT in said or drug_form is Form.SUBLINGUAL
            if for_oud and not for_pain:
                return True
    return False


def _classes(
    identity: Identity, topical: bool, terminology: Terminology
) -> frozenset[TherapyClass]:
    names = set(identity.ingredients)
    ingredients = terminology.ingredients
    if topical:
        compound = any(
            ingredients[n].therapy_class in (TherapyClass.TCA, TherapyClass.NMDA_ANTAGONIST)
            for n in names
            if n in ingredients
        )
        if compound or TherapyClass.TCA in identity.group_classes:
            return frozenset({TherapyClass.TOPICAL_COMPOUND})
        if "lidocaine" in names:
            return frozenset({TherapyClass.TOPICAL_LIDOCAINE})
        return frozenset()
    classes = set(identity.group_classes)
    for name in names:
        ingredient = ingredients.get(name)
        # Lidocaine given any way but topically is outside the guideline.
        if (
            ingredient is not None
            and ingredient.therapy_class is not TherapyClass.TOPICAL_LIDOCAINE
        ):
            classes.add(ingredient.therapy_class)
    return frozenset(classes)


def _label(order: JsonObject, medication: JsonObject, identity: Identity) -> str:
    return (
        concept_label(order.get("medicationCodeableConcept"))
        or text(obj(order.get("medicationReference")).get("display"))
        or concept_label(medication.get("code"))
        or (identity.drug.display if identity.drug else None)
        or ", ".join(identity.ingredients)
    )


def _dose(order: JsonObject, identity: Identity, strength: float | None) -> DailyDose | UnknownDose:
    if len(identity.ingredients) != 1 and identity.drug is None:
        return UnknownDose("a product with several ingredients")
    dosage = order.get("dosageInstruction", order.get("dosage"))
    return daily_dose(dosage, strength)


def _in_use(order: JsonObject, status: str) -> Interval | None:
    return order_period(order, status)
