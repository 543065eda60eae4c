"""The classes the guideline reasons about: of conditions and of therapies (GUIDELINE §1–§4)."""

from __future__ import annotations

from enum import StrEnum


class ConditionClass(StrEnum):
    PHANTOM_LIMB_PAIN = "phantom-limb-pain"
    PHANTOM_LIMB_WITHOUT_PAIN = "phantom-limb-without-pain"
    CARDIAC_DISEASE = "cardiac-disease"
    CONDUCTION_ABNORMALITY = "conduction-abnormality"
    CV_RISK_FACTOR = "cardiovascular-risk-factor"


HEART_CONCERNS = frozenset({ConditionClass.CARDIAC_DISEASE, ConditionClass.CONDUCTION_ABNORMALITY})


class TherapyClass(StrEnum):
    GABAPENTINOID = "gabapentinoid"
    TCA = "tca"
    SNRI = "snri"
    TOPICAL_LIDOCAINE = "topical-lidocaine"
    TOPICAL_COMPOUND = "topical-compound"
    NMDA_ANTAGONIST = "nmda-antagonist"
    OPIOID = "opioid"


class Amine(StrEnum):
    SECONDARY = "secondary"
    TERTIARY = "tertiary"
