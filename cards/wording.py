"""Small pieces of card text shared by every card."""

from __future__ import annotations

from collections.abc import Iterable

from facts.classes import TherapyClass
from facts.conditions import ConditionFact
from facts.medications import MedicationFact

CLASS_NAMES: dict[TherapyClass, str] = {
    TherapyClass.GABAPENTINOID: "Gabapentinoid",
    TherapyClass.TCA: "Tricyclic antidepressant",
    TherapyClass.SNRI: "SNRI",
    TherapyClass.TOPICAL_LIDOCAINE: "Topical lidocaine",
    TherapyClass.TOPICAL_COMPOUND: "Topical amitriptyline/ketamine compound",
    TherapyClass.NMDA_ANTAGONIST: "NMDA receptor antagonist (ketamine)",
    TherapyClass.OPIOID: "Opioid",
}

REASSESS = "Reassess pain and quality of life regularly to guide changes."


def order_line(medication: MedicationFact) -> str:
    return f"{medication.label} ({medication.reference}, {medication.status})"


def condition_line(condition: ConditionFact) -> str:
    return f"{condition.label} ({condition.reference})"


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
