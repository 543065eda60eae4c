"""GUIDELINE §4, TCA and the heart: how serious each cardiac finding is.

`critical` only where the guideline's caution meets a hard finding: a ventricular conduction
block, Mobitz II or complete AV block, long QT, a ventricular arrhythmia, or an acute
myocardial infarction. Every other cardiac finding (first-degree or unspecified second-degree
AV block, atrial fibrillation, heart failure, an older MI, …) is a `warning`.
"""

from __future__ import annotations

from datetime import date

from facts.classes import ConditionClass
from facts.conditions import ConditionFact
from guideline.findings import Severity

HARD_FINDINGS = frozenset(
    {
        ConditionClass.VENTRICULAR_CONDUCTION_BLOCK,
        ConditionClass.AV_BLOCK_HIGH_GRADE,
        ConditionClass.LONG_QT,
        ConditionClass.VENTRICULAR_ARRHYTHMIA,
    }
)
ACUTE_MI_DAYS = 30  # "onset or recorded date within 30 days"


def acute_mi(condition: ConditionFact, today: date) -> bool:
    """A live myocardial infarction dated within 30 days, or live with no date at all (an
    active I21/I22 with no date). A resolved MI is ischaemic heart disease, not acute."""
    if ConditionClass.MYOCARDIAL_INFARCTION not in condition.classes or not condition.live:
        return False
    dates = [d for d in (condition.onset, condition.recorded) if d is not None]
    if not dates:
        return True
    # A date in the future (a clock apart) is as recent as it gets.
    return any((today - d).days <= ACUTE_MI_DAYS for d in dates)


def is_hard(condition: ConditionFact, today: date) -> bool:
    return (condition.live and bool(condition.classes & HARD_FINDINGS)) or acute_mi(
        condition, today
    )


def heart_severity(heart: tuple[ConditionFact, ...], today: date) -> Severity:
    """The severity of a systemic TCA for this heart (the counted conditions, non-empty)."""
    return Severity.CRITICAL if any(is_hard(c, today) for c in heart) else Severity.WARNING
