"""Condition → the classes the guideline cares about (GUIDELINE §1 and §4)."""

from __future__ import annotations

import re
from functools import lru_cache

import orjson

from facts.classes import HEART_CONCERNS, ConditionClass
from facts.conditions import ConditionFact
from fhir_mappings.json_access import (
    JsonObject,
    codings,
    concept_label,
    concept_words,
    reference_of,
    status_code,
)
from fhir_mappings.terminology import (
    ICD_PREFIX_ORDER,
    ICD_PREFIXES,
    ICD_SYSTEMS,
    SNOMED,
    SNOMED_CONDITIONS,
)

LIVE_CLINICAL_STATUSES = frozenset({"active", "recurrence", "relapse"})
DISCOUNTED_VERIFICATION = frozenset({"refuted", "entered-in-error"})

# Free text is read only when no coding is recognised. "Phantom limb syndrome without pain"
# and stump pain alone do not match.
_PLP_TEXT = re.compile(r"\bphantom[\s-]+(?:limb[\s-]+)?(?:syndrome[\s-]+with[\s-]+)?pain")
_NO_PAIN_TEXT = re.compile(r"\bwithout\s+pain\b|\bno\s+pain\b|\bpainless\b")


def classify_code(system: str, code: str) -> ConditionClass | None:
    if system == SNOMED:
        return SNOMED_CONDITIONS.get(code)
    if system in ICD_SYSTEMS:
        upper = code.upper()
        for prefix in ICD_PREFIX_ORDER:
            if upper.startswith(prefix):
                return ICD_PREFIXES[prefix]
    return None


def classify_text(words: str) -> ConditionClass | None:
    lowered = words.lower()
    if _PLP_TEXT.search(lowered) and not _NO_PAIN_TEXT.search(lowered):
        return ConditionClass.PHANTOM_LIMB_PAIN
    return None


def is_live(condition: JsonObject) -> bool:
    """GUIDELINE §1: active, recurrence or relapse (or no status); not refuted or in error."""
    clinical = status_code(condition.get("clinicalStatus"))
    return (clinical is None or clinical in LIVE_CLINICAL_STATUSES) and not is_discounted(condition)


def is_discounted(condition: JsonObject) -> bool:
    return status_code(condition.get("verificationStatus")) in DISCOUNTED_VERIFICATION


def condition_fact(condition: JsonObject) -> ConditionFact | None:
    """The guideline classes a Condition carries, or None when it carries none."""
    if is_discounted(condition):
        return None
    code = condition.get("code")
    classes = _classes_of(orjson.dumps(code) if isinstance(code, dict) else b"null")
    if not classes:
        return None
    return ConditionFact(
        reference=reference_of(condition),
        label=concept_label(code) or "condition",
        classes=classes,
        live=is_live(condition),
    )


# Charts repeat the same codes many times: classify each distinct concept once per process.
@lru_cache(maxsize=4096)
def _classes_of(key: bytes) -> frozenset[ConditionClass]:
    code = orjson.loads(key)
    classes = {c for c in (classify_code(s, k) for s, k in codings(code)) if c is not None}
    if not classes:
        from_text = classify_text(concept_words(code))
        if from_text is not None:
            classes.add(from_text)
    return frozenset(classes)


def in_scope(fact: ConditionFact) -> bool:
    return fact.live and ConditionClass.PHANTOM_LIMB_PAIN in fact.classes


def concerns_heart(fact: ConditionFact) -> bool:
    # A resolved myocardial infarction or a past arrhythmia still means a heart with disease,
    # so heart conditions count whatever their clinical status (refuted and entered-in-error
    # were dropped already).
    return bool(fact.classes & HEART_CONCERNS)


def is_risk_factor(fact: ConditionFact) -> bool:
    return fact.live and ConditionClass.CV_RISK_FACTOR in fact.classes
