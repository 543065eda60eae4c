"""The patient's facts as the guideline counts them (GUIDELINE §1–§3).

`PatientFacts` says what the record holds; `Chart` says what of it counts: which heart
conditions (live ones, and a past myocardial infarction), which allergies (live ones), which
opioid orders are opioid agonist treatment of an opioid use disorder rather than opioids for
pain, and, for every therapy the guideline can suggest, whether it may be suggested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from facts.allergies import AllergyFact
from facts.classes import HEART_CONCERNS, ConditionClass, TherapyClass
from facts.conditions import ConditionFact
from facts.medications import MedicationFact
from facts.patient import PatientFacts
from guideline.findings import Exclusion, Reason
from guideline.therapies import AGENTS, Agent, Therapy


def counts_for_heart(condition: ConditionFact) -> bool:
    """§1: a heart condition counts while live; a past myocardial infarction (resolved,
    inactive or abated) keeps counting as ischaemic heart disease. Refuted and
    entered-in-error Conditions never reach the facts."""
    if not condition.classes & HEART_CONCERNS:
        return False
    return condition.live or ConditionClass.MYOCARDIAL_INFARCTION in condition.classes


def counts_as_oud(condition: ConditionFact) -> bool:
    """§1: opioid use disorder counts while live, and in remission (it is read only to tell
    opioid agonist treatment apart, which is what remission keeps counting for)."""
    return condition.live or condition.remission


def takes(medication: MedicationFact, agent: Agent) -> bool:
    if agent.therapy_class not in medication.classes:
        return False
    # The compound, ketamine and the patch are told by their class; the others by ingredient.
    return agent.therapy_class in _BY_CLASS or bool(agent.ingredients & set(medication.ingredients))


_BY_CLASS = frozenset(
    {TherapyClass.TOPICAL_COMPOUND, TherapyClass.NMDA_ANTAGONIST, TherapyClass.TOPICAL_LIDOCAINE}
)


def allergic(allergy: AllergyFact, agent: Agent) -> bool:
    return bool(allergy.ingredients & agent.ingredients or allergy.classes & agent.classes)


def allergy_classes(allergy: AllergyFact) -> frozenset[TherapyClass]:
    """The classes an allergy says were tried and not tolerated: the classes it names, and
    the classes of the agents it names."""
    named = {a.therapy_class for a in AGENTS.values() if allergy.ingredients & a.ingredients}
    return allergy.classes | allergy.agent_classes | frozenset(named)


@dataclass(frozen=True, slots=True)
class Chart:
    facts: PatientFacts
    today: date
    heart: tuple[ConditionFact, ...] = field(init=False)
    risk_factors: tuple[ConditionFact, ...] = field(init=False)
    opioid_use_disorder: tuple[ConditionFact, ...] = field(init=False)
    # Orders of opioid agonist treatment (§2): not part of the ladder, not opioids for pain.
    agonist_treatment: tuple[MedicationFact, ...] = field(init=False)
    # Every other order: the ones the ladder and the opioid checks read.
    medications: tuple[MedicationFact, ...] = field(init=False)
    allergies: tuple[AllergyFact, ...] = field(init=False)

    def __post_init__(self) -> None:
        facts = self.facts
        heart = tuple(c for c in facts.heart if counts_for_heart(c))
        oud = tuple(c for c in facts.opioid_use_disorder if counts_as_oud(c))
        oat = tuple(m for m in facts.medications if oud and m.agonist_treatment_product)
        set_ = object.__setattr__
        set_(self, "heart", heart)
        # §4: risk factors matter only where there is no cardiac disease.
        set_(self, "risk_factors", () if heart else tuple(c for c in facts.risk_factors if c.live))
        set_(self, "opioid_use_disorder", oud)
        set_(self, "agonist_treatment", oat)
        oat_ids = {id(m) for m in oat}  # by identity: linear in the orders
        set_(self, "medications", tuple(m for m in facts.medications if id(m) not in oat_ids))
        set_(self, "allergies", tuple(a for a in facts.allergies if a.live))

    def is_agonist_treatment(self, medication: MedicationFact) -> bool:
        return bool(self.opioid_use_disorder) and medication.agonist_treatment_product

    def current(self, therapy: Therapy) -> tuple[MedicationFact, ...]:
        agent = AGENTS[therapy]
        return tuple(m for m in self.medications if m.current and takes(m, agent))

    def current_of_class(self, therapy_class: TherapyClass) -> tuple[MedicationFact, ...]:
        return tuple(
            m
            for m in self.medications
            if m.current and therapy_class in m.classes and not m.topical
        )

    def exclusion(self, therapy: Therapy, *, heart_matters: bool = True) -> Exclusion | None:
        """Why the therapy may not be suggested, or None when it may (§3, §4)."""
        agent = AGENTS.get(therapy)
        if agent is None:
            return None  # a non-drug therapy: nothing rules it out
        taking = tuple(m for m in self.medications if m.current and takes(m, agent))
        if taking:
            return Exclusion(therapy, Reason.CURRENT, orders=taking)
        allergies = tuple(a for a in self.allergies if allergic(a, agent))
        if allergies:
            return Exclusion(therapy, Reason.ALLERGY, allergies=allergies)
        if heart_matters and self.heart and agent.therapy_class is TherapyClass.TCA:
            return Exclusion(therapy, Reason.HEART, conditions=self.heart)
        tried = tuple(m for m in self.medications if m.tried and takes(m, agent))
        if tried:
            return Exclusion(therapy, Reason.TRIED, orders=tried)
        return None

    def sort_out(
        self, therapies: tuple[Therapy, ...]
    ) -> tuple[tuple[Therapy, ...], tuple[Exclusion, ...]]:
        """The therapies that may be suggested, and why each of the others may not."""
        offered: list[Therapy] = []
        left_out: list[Exclusion] = []
        for therapy in therapies:
            exclusion = self.exclusion(therapy)
            if exclusion is None:
                offered.append(therapy)
            else:
                left_out.append(exclusion)
        return tuple(offered), tuple(left_out)
