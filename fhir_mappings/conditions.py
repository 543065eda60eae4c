"""Condition → the classes the guideline cares about, and whether it is live (GUIDELINE §1, §4, §6).

A Condition is recognised by its codes first, then by its codings' displays, then by its
`code.text` (the tables in `fhir_mappings/data/conditions.csv`); the first of these that names
a class decides. A code whose class says only "some other cardiac finding" lets the displays
and text refine it, so a WHO I45.8 written "Long QT syndrome" still grades as long QT, and an
I44.1 written "Mobitz II" as a high-grade block.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from facts.classes import HEART_CONCERNS, ConditionClass
from facts.conditions import ConditionFact
from fhir_mappings.content_cache import concept_cache, resource_cache
from fhir_mappings.fhir_dates import last_day
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
from fhir_mappings.terminology import REMISSION, Terminology, builtin

LIVE_CLINICAL_STATUSES = frozenset({"active", "recurrence", "relapse"})
REMISSION_STATUS = "remission"
DISCOUNTED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
# A coded class this vague lets the display and text say more. Second-degree AV block (I44.1)
# is graded by whether it is specified as Mobitz II (GUIDELINE §4), which the code cannot say.
_REFINABLE = frozenset({ConditionClass.OTHER_HEART_DISEASE, ConditionClass.AV_BLOCK_SECOND_DEGREE})


@dataclass(frozen=True, slots=True)
class Recognised:
    classes: frozenset[ConditionClass]
    # The code or its words say "in remission" (ICD-10-CM F11.21 and the like).
    remission: bool = False


NOTHING = Recognised(frozenset())


def recognise(concept: Any, terminology: Terminology | None = None) -> Recognised:
    """What a Condition.code names: codes first, then displays, then text."""
    return _recognise(concept, terminology or builtin())


# Charts repeat the same codes many times: recognise each distinct concept once per process
# and terminology. The answer is frozen, so sharing it is safe.
@concept_cache(maxsize=4096)
def _recognise(value: Any, terminology: Terminology) -> Recognised:
    concept = obj(value)
    found: set[str] = set()
    for system, code in codings(concept):
        entry = terminology.condition_codes.lookup(system, code)
        if entry is not None:
            found |= entry.concepts
    coded = _classes(found)
    if not coded or coded <= _REFINABLE:
        displays = "; ".join(
            d for d in (text(c.get("display")) for c in objs(concept.get("coding"))) if d
        )
        words = terminology.condition_text.find(displays)
        if _classes(words) <= _REFINABLE:
            words |= terminology.condition_text.find(text(concept.get("text")) or "")
        found |= words
    classes = _classes(found)
    if coded:
        # A specific finding in the words replaces the vague coded one it refines; words that
        # add nothing specific leave the coded class as it is.
        specific = classes - coded - _REFINABLE
        classes = (coded - _REFINABLE) | specific if specific else coded
    return Recognised(classes, REMISSION in found) if classes else NOTHING


def _classes(concepts: set[str] | frozenset[str]) -> frozenset[ConditionClass]:
    return frozenset(ConditionClass(c) for c in concepts if c != REMISSION)


def condition_fact(
    condition: JsonObject,
    terminology: Terminology | None = None,
    today: date | None = None,
) -> ConditionFact | None:
    """The guideline classes a Condition carries, or None when it carries none."""
    terminology = terminology or builtin()
    # The (cached) reading of the code first: most Conditions name nothing the guideline
    # knows, and are then passed over without their statuses being read.
    if not recognise(condition.get("code"), terminology).classes:
        return None
    return _condition_fact(condition, terminology, today or date.today())


# Each hook call sends the chart again: a Condition the guideline reads is read once per
# process, terminology and day, keyed by its whole JSON. The fact is frozen, so sharing it
# is safe.
@resource_cache(maxsize=4096)
def _condition_fact(
    condition: JsonObject, terminology: Terminology, today: date
) -> ConditionFact | None:
    if is_discounted(condition):
        return None
    code = condition.get("code")
    recognised = recognise(code, terminology)
    clinical = status_code(condition.get("clinicalStatus"))
    ended = has_ended(condition, today)
    live_status = clinical is None or clinical in LIVE_CLINICAL_STATUSES
    return ConditionFact(
        reference=reference_of(condition),
        label=concept_label(code) or "condition",
        classes=recognised.classes,
        live=live_status and not ended,
        ended=ended,
        # A status that says resolved or inactive is not outweighed by a code saying remission.
        remission=clinical == REMISSION_STATUS or (recognised.remission and live_status),
        # Read only for an MI's recency: a partial date is its last day (fhir_dates).
        onset=last_day(condition.get("onsetDateTime")) or _onset_period(condition),
        recorded=last_day(condition.get("recordedDate")),
    )


def _onset_period(condition: JsonObject) -> date | None:
    # The latest day the onset may be: the Period's end, else its start.
    period = obj(condition.get("onsetPeriod"))
    return last_day(period.get("end")) or last_day(period.get("start"))


def has_ended(condition: JsonObject, today: date) -> bool:
    """GUIDELINE §1: any `abatement[x]` ends a Condition unless it lies in the future.

    A partial date is its last day, so "2026" has not yet passed during 2026 (fhir_dates). A
    value that is not a date, an Age, a Range or a String cannot be placed on the calendar
    without the patient's birth date, so it counts as past: the Condition has abated.
    """
    for key, value in condition.items():
        if not key.startswith("abatement") or value is None:
            continue
        if key == "abatementBoolean":  # FHIR STU3
            return value is True
        if key == "abatementDateTime":
            return not _lies_ahead(value, today)
        if key == "abatementPeriod":
            period = obj(value)
            return not _lies_ahead(period.get("end") or period.get("start"), today)
        return True
    return False


def _lies_ahead(value: object, today: date) -> bool:
    end = last_day(value)
    return end is not None and end > today


def is_discounted(condition: JsonObject) -> bool:
    return status_code(condition.get("verificationStatus")) in DISCOUNTED_VERIFICATION


def in_scope(fact: ConditionFact) -> bool:
    return fact.live and ConditionClass.PHANTOM_LIMB_PAIN in fact.classes


def concerns_heart(fact: ConditionFact) -> bool:
    # Every heart finding is passed on with its liveness (live, ended, remission, dates):
    # which of them still count (a past MI does, GUIDELINE §1) is the guideline's call.
    # Refuted and entered-in-error ones were dropped already.
    return bool(fact.classes & HEART_CONCERNS)


def is_risk_factor(fact: ConditionFact) -> bool:
    return fact.live and ConditionClass.CV_RISK_FACTOR in fact.classes


def is_opioid_use_disorder(fact: ConditionFact) -> bool:
    # GUIDELINE §1: opioid use disorder in remission keeps counting (on agonist treatment).
    return ConditionClass.OPIOID_USE_DISORDER in fact.classes and (fact.live or fact.remission)
