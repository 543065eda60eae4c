"""The therapies the guideline names (GUIDELINE §2), as things the service can suggest."""

from __future__ import annotations

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


THERAPY_CLASS: dict[Therapy, TherapyClass] = {
    Therapy.GABAPENTIN: TherapyClass.GABAPENTINOID,
    Therapy.PREGABALIN: TherapyClass.GABAPENTINOID,
    Therapy.LIDOCAINE_PATCH: TherapyClass.TOPICAL_LIDOCAINE,
    Therapy.NORTRIPTYLINE: TherapyClass.TCA,
    Therapy.DESIPRAMINE: TherapyClass.TCA,
    Therapy.DULOXETINE: TherapyClass.SNRI,
    Therapy.VENLAFAXINE: TherapyClass.SNRI,
    Therapy.KETAMINE: TherapyClass.NMDA_ANTAGONIST,
    Therapy.TOPICAL_COMPOUND: TherapyClass.TOPICAL_COMPOUND,
}

FIRST_LINE = frozenset(
    {
        TherapyClass.GABAPENTINOID,
        TherapyClass.TCA,
        TherapyClass.SNRI,
        TherapyClass.TOPICAL_LIDOCAINE,
    }
)
SECOND_LINE = frozenset(
    {TherapyClass.NMDA_ANTAGONIST, TherapyClass.TOPICAL_COMPOUND, TherapyClass.OPIOID}
)
GABAPENTINOIDS = (Therapy.GABAPENTIN, Therapy.PREGABALIN)
SNRIS = (Therapy.DULOXETINE, Therapy.VENLAFAXINE)
