"""The classes the guideline reasons about: of conditions and of therapies (GUIDELINE §1–§4)."""

from __future__ import annotations

from enum import StrEnum


class ConditionClass(StrEnum):
    PHANTOM_LIMB_PAIN = "phantom-limb-pain"
    PHANTOM_LIMB_WITHOUT_PAIN = "phantom-limb-without-pain"
    # The cardiac findings of GUIDELINE §4, each a class the guideline grades on its own.
    ISCHAEMIC_HEART_DISEASE = "ischaemic-heart-disease"
    MYOCARDIAL_INFARCTION = "myocardial-infarction"  # acute or past: §4 grades it by its date
    HEART_FAILURE = "heart-failure"
    CARDIOMYOPATHY = "cardiomyopathy"
    ATRIAL_ARRHYTHMIA = "atrial-arrhythmia"  # atrial fibrillation/flutter, SVT
    VENTRICULAR_ARRHYTHMIA = "ventricular-arrhythmia"
    AV_BLOCK_FIRST_DEGREE = "av-block-first-degree"
    AV_BLOCK_SECOND_DEGREE = "av-block-second-degree"  # not specified as Mobitz II (I44.1)
    AV_BLOCK_HIGH_GRADE = "av-block-high-grade"  # Mobitz II, third-degree (complete)
    VENTRICULAR_CONDUCTION_BLOCK = "ventricular-conduction-block"  # bundle branch, fascicular
    PRE_EXCITATION = "pre-excitation"
    LONG_QT = "long-qt"
    OTHER_HEART_DISEASE = "other-heart-disease"  # any other cardiac finding on §4's list
    CV_RISK_FACTOR = "cardiovascular-risk-factor"
    OPIOID_USE_DISORDER = "opioid-use-disorder"


HEART_CONCERNS = frozenset(
    {
        ConditionClass.ISCHAEMIC_HEART_DISEASE,
        ConditionClass.MYOCARDIAL_INFARCTION,
        ConditionClass.HEART_FAILURE,
        ConditionClass.CARDIOMYOPATHY,
        ConditionClass.ATRIAL_ARRHYTHMIA,
        ConditionClass.VENTRICULAR_ARRHYTHMIA,
        ConditionClass.AV_BLOCK_FIRST_DEGREE,
        ConditionClass.AV_BLOCK_SECOND_DEGREE,
        ConditionClass.AV_BLOCK_HIGH_GRADE,
        ConditionClass.VENTRICULAR_CONDUCTION_BLOCK,
        ConditionClass.PRE_EXCITATION,
        ConditionClass.LONG_QT,
        ConditionClass.OTHER_HEART_DISEASE,
    }
)


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
