"""Plain facts for the guideline's and the cards' unit tests: no FHIR, no code tables.

Each builder makes one fact as `fhir_mappings` would hand it over, so the rules are tested on
exactly the situation a test names.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from facts.allergies import AllergyFact
from facts.classes import HEART_CONCERNS, Amine, ConditionClass, TherapyClass
from facts.conditions import ConditionFact
from facts.dose import DailyDose, DoseGap, UnknownDose
from facts.medications import CURRENT_STATUSES, Interval, MedicationFact
from facts.observations import PainScore
from facts.orders import SplintOrder, SplintSite
from facts.patient import PatientFacts

TODAY = date(2026, 11, 24)
_ids = itertools.count(1)

# The class of each agent a test may name (the tests' own table, written out).
CLASS = {
    "gabapentin": TherapyClass.GABAPENTINOID,
    "pregabalin": TherapyClass.GABAPENTINOID,
    "nortriptyline": TherapyClass.TCA,
    "desipramine": TherapyClass.TCA,
    "amitriptyline": TherapyClass.TCA,
    "imipramine": TherapyClass.TCA,
    "duloxetine": TherapyClass.SNRI,
    "venlafaxine": TherapyClass.SNRI,
    "lidocaine": TherapyClass.TOPICAL_LIDOCAINE,
    "ketamine": TherapyClass.NMDA_ANTAGONIST,
    "oxycodone": TherapyClass.OPIOID,
    "morphine": TherapyClass.OPIOID,
    "buprenorphine": TherapyClass.OPIOID,
    "methadone": TherapyClass.OPIOID,
}
TERTIARY = {"amitriptyline", "imipramine"}


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def med(
    ingredient: str,
    *,
    id: str | None = None,
    status: str = "active",
    intent: str | None = "order",
    start: date | None = None,
    end: date | None = None,
    mg_per_day: float | None = None,
    topical: bool = False,
    oat_product: bool = False,
    classes: frozenset[TherapyClass] | None = None,
    replaces: str | None = None,
) -> MedicationFact:
    """An order of one agent. A current order is in use from `start` on; an ended one from
    `start` to `end` (or at `start` only)."""
    if classes is None:
        classes = frozenset({CLASS[ingredient]}) if ingredient in CLASS else frozenset()
    if status in CURRENT_STATUSES:
        in_use: Interval | None = Interval(start, None)
    elif start is None and end is None:
        in_use = None
    else:
        in_use = Interval(start, end or start)
    dose: DailyDose | UnknownDose = (
        DailyDose(mg_per_day, f"{mg_per_day:g} mg/day")
        if mg_per_day is not None
        else UnknownDose("no dosage instructions", DoseGap.NOT_WRITTEN)
    )
    return MedicationFact(
        reference=f"MedicationRequest/{id or ingredient + '-' + str(next(_ids))}",
        label=f"{ingredient.capitalize()} (as ordered)",
        ingredients=(ingredient,),
        classes=classes,
        topical=topical,
        status=status,
        intent=intent,
        in_use=in_use,
        dose=dose,
        amines=frozenset({Amine.TERTIARY}) if ingredient in TERTIARY else frozenset(),
        agonist_treatment_product=oat_product,
        replaces=replaces,
    )


def draft(ingredient: str, **kwargs: object) -> MedicationFact:
    return med(ingredient, status="draft", **kwargs)  # type: ignore[arg-type]


def condition(
    *classes: ConditionClass,
    id: str | None = None,
    live: bool = True,
    ended: bool = False,
    remission: bool = False,
    onset: date | None = None,
    recorded: date | None = None,
) -> ConditionFact:
    return ConditionFact(
        reference=f"Condition/{id or classes[0].value + '-' + str(next(_ids))}",
        label=f"{classes[0].value.replace('-', ' ').capitalize()} (as recorded)",
        classes=frozenset(classes),
        live=live,
        ended=ended,
        remission=remission,
        onset=onset,
        recorded=recorded,
    )


def allergy(
    *ingredients: str,
    classes: tuple[TherapyClass, ...] = (),
    id: str | None = None,
    live: bool = True,
) -> AllergyFact:
    return AllergyFact(
        reference=f"AllergyIntolerance/{id or 'a-' + str(next(_ids))}",
        label=f"{', '.join(ingredients) or 'class'} intolerance (as recorded)",
        ingredients=frozenset(ingredients),
        classes=frozenset(classes),
        live=live,
    )


def score(
    value: float, when: date, *, preliminary: bool = False, id: str | None = None
) -> PainScore:
    return PainScore(
        reference=f"Observation/{id or 'p-' + str(next(_ids))}",
        label="Pain severity 0-10 (reported)",
        value=value,
        unit=None,
        when=when,
        preliminary=preliminary,
    )


def splint(site: SplintSite, *, id: str = "s1") -> SplintOrder:
    return SplintOrder(f"DeviceRequest/{id}", "Immobilisation splint", site)


PLP = condition(ConditionClass.PHANTOM_LIMB_PAIN, id="plp")


def patient(
    *items: MedicationFact | ConditionFact | AllergyFact,
    scores: tuple[PainScore, ...] | None = (),
    in_scope: bool = True,
) -> PatientFacts:
    """The facts of a patient with phantom limb pain (unless `in_scope` is False), sorted
    into the lists `fhir_mappings` fills."""
    conditions = [i for i in items if isinstance(i, ConditionFact)]
    return PatientFacts(
        phantom_limb_pain=(PLP,) if in_scope else (),
        heart=tuple(c for c in conditions if c.classes & HEART_CONCERNS),
        risk_factors=tuple(c for c in conditions if ConditionClass.CV_RISK_FACTOR in c.classes),
        medications=tuple(i for i in items if isinstance(i, MedicationFact)),
        opioid_use_disorder=tuple(
            c for c in conditions if ConditionClass.OPIOID_USE_DISORDER in c.classes
        ),
        allergies=tuple(i for i in items if isinstance(i, AllergyFact)),
        pain_scores=scores,
    )
