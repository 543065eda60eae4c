"""The therapies the guideline names (GUIDELINE §2), as things the service can suggest."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from facts.classes import TherapyClass


class Therapy(StrEnum):
    GABAPENTIN = "gabapentin"
    PREGABALIN = "pregabalin"
    LIDOCAINE_PATCH = "lidocaine-patch"
    NORTRIPTYLINE = "nortriptyline"
    DESIPRAMINE = "desipramine"
    DULOXETINE = "duloxetine"
    VENLAFAXINE = "venlafaxine"
    MIRROR_THERAPY = "mirror-therapy"
    EXERCISE_THERAPY = "exercise-therapy"
    KETAMINE = "ketamine"
    TOPICAL_COMPOUND = "topical-amitriptyline-ketamine"
    SPINAL_CORD_STIMULATION = "spinal-cord-stimulation"
    MULTIDISCIPLINARY = "multidisciplinary-psychological"


@dataclass(frozen=True, slots=True)
class Agent:
    """What a suggested drug is, as far as the guideline's rules need to know it."""

    therapy_class: TherapyClass
    ingredients: frozenset[str]
    # Every class the agent belongs to for allergies: an allergy recorded against one of these
    # classes rules the agent out (the compound holds a TCA and an NMDA antagonist).
    classes: frozenset[TherapyClass]


def _agent(
    therapy_class: TherapyClass, *ingredients: str, also: tuple[TherapyClass, ...] = ()
) -> Agent:
    return Agent(therapy_class, frozenset(ingredients), frozenset({therapy_class, *also}))


# The drugs the service may suggest. Non-drug therapies have no agent: nothing rules them out.
AGENTS: dict[Therapy, Agent] = {
    Therapy.GABAPENTIN: _agent(TherapyClass.GABAPENTINOID, "gabapentin"),
    Therapy.PREGABALIN: _agent(TherapyClass.GABAPENTINOID, "pregabalin"),
    Therapy.LIDOCAINE_PATCH: _agent(TherapyClass.TOPICAL_LIDOCAINE, "lidocaine"),
    Therapy.NORTRIPTYLINE: _agent(TherapyClass.TCA, "nortriptyline"),
    Therapy.DESIPRAMINE: _agent(TherapyClass.TCA, "desipramine"),
    Therapy.DULOXETINE: _agent(TherapyClass.SNRI, "duloxetine"),
    Therapy.VENLAFAXINE: _agent(TherapyClass.SNRI, "venlafaxine"),
    Therapy.KETAMINE: _agent(TherapyClass.NMDA_ANTAGONIST, "ketamine"),
    Therapy.TOPICAL_COMPOUND: _agent(
        TherapyClass.TOPICAL_COMPOUND,
        "amitriptyline",
        "ketamine",
        also=(TherapyClass.TCA, TherapyClass.NMDA_ANTAGONIST),
    ),
}

# The systemic first-line classes: two of them in use together is step 2 (GUIDELINE §3).
# The lidocaine patch is first line too, but an adjunct that does not move the ladder.
SYSTEMIC_FIRST_LINE = frozenset({TherapyClass.GABAPENTINOID, TherapyClass.TCA, TherapyClass.SNRI})
SECOND_LINE = frozenset(
    {TherapyClass.NMDA_ANTAGONIST, TherapyClass.TOPICAL_COMPOUND, TherapyClass.OPIOID}
)
GABAPENTINOIDS = (Therapy.GABAPENTIN, Therapy.PREGABALIN)
# The TCAs the guideline suggests are the secondary amines.
TCAS = (Therapy.NORTRIPTYLINE, Therapy.DESIPRAMINE)
SNRIS = (Therapy.DULOXETINE, Therapy.VENLAFAXINE)
# TCA and SNRI are alternatives, never stacked (GUIDELINE §2, §3).
ALTERNATIVE_CLASS = {TherapyClass.TCA: TherapyClass.SNRI, TherapyClass.SNRI: TherapyClass.TCA}
OF_CLASS: dict[TherapyClass, tuple[Therapy, ...]] = {
    TherapyClass.GABAPENTINOID: GABAPENTINOIDS,
    TherapyClass.TCA: TCAS,
    TherapyClass.SNRI: SNRIS,
}
# Step 2's add-ons, step 3's options, step 4's referrals (GUIDELINE §3).
STEP_2_ADD_ONS = (Therapy.MIRROR_THERAPY, Therapy.EXERCISE_THERAPY)
STEP_3_OPTIONS = (Therapy.KETAMINE, Therapy.TOPICAL_COMPOUND)
STEP_4_OPTIONS = (Therapy.SPINAL_CORD_STIMULATION, Therapy.MULTIDISCIPLINARY)
