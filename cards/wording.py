"""Small pieces of card text shared by every card.

Text from the EHR (labels, references) enters a card only through the `*_line` functions
here, so how it is shown is decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cards.markdown import escape_markdown
from facts.allergies import AllergyFact
from facts.classes import TherapyClass
from facts.conditions import ConditionFact
from facts.dose import fmt
from facts.medications import MedicationFact
from facts.observations import PainScore
from facts.orders import SplintOrder
from guideline.therapies import Therapy

CLASS_NAMES: dict[TherapyClass, str] = {
    TherapyClass.GABAPENTINOID: "Gabapentinoid",
    TherapyClass.TCA: "Tricyclic antidepressant",
    TherapyClass.SNRI: "SNRI",
    TherapyClass.TOPICAL_LIDOCAINE: "Topical lidocaine",
    TherapyClass.TOPICAL_COMPOUND: "Topical amitriptyline/ketamine compound",
    TherapyClass.NMDA_ANTAGONIST: "NMDA receptor antagonist (ketamine)",
    TherapyClass.OPIOID: "Opioid",
}

# The therapies by name, in running text.
THERAPY_NAMES: dict[Therapy, str] = {
    Therapy.GABAPENTIN: "gabapentin",
    Therapy.PREGABALIN: "pregabalin",
    Therapy.LIDOCAINE_PATCH: "lidocaine 5% patch",
    Therapy.NORTRIPTYLINE: "nortriptyline",
    Therapy.DESIPRAMINE: "desipramine",
    Therapy.DULOXETINE: "duloxetine",
    Therapy.VENLAFAXINE: "venlafaxine",
    Therapy.MIRROR_THERAPY: "mirror therapy",
    Therapy.EXERCISE_THERAPY: "exercise therapy",
    Therapy.KETAMINE: "ketamine",
    Therapy.TOPICAL_COMPOUND: "topical amitriptyline/ketamine compound",
    Therapy.SPINAL_CORD_STIMULATION: "spinal cord stimulation",
    Therapy.MULTIDISCIPLINARY: "multidisciplinary approach",
}

REASSESS = "Reassess pain and quality of life regularly to guide changes."


def _named(label: str, reference: str) -> str:
    return f"{escape_markdown(label)} ({escape_markdown(reference)})"


def order_line(medication: MedicationFact) -> str:
    label, reference = escape_markdown(medication.label), escape_markdown(medication.reference)
    return f"{label} ({reference}, {escape_markdown(medication.status)})"


def condition_line(condition: ConditionFact) -> str:
    return _named(condition.label, condition.reference)


def allergy_line(allergy: AllergyFact) -> str:
    return _named(allergy.label, allergy.reference)


def splint_line(splint: SplintOrder) -> str:
    return _named(splint.label, splint.reference)


def score_line(score: PainScore) -> str:
    value = fmt(score.value) + (f" {escape_markdown(score.unit)}" if score.unit else "")
    preliminary = " (preliminary)" if score.preliminary else ""
    named = _named(score.label, score.reference)
    return f"{score.when.isoformat()}: {value}{preliminary} — {named}"


def agent_name(medication: MedicationFact) -> str:
    """The agent by its ingredient (the service's own words, never the EHR's text)."""
    return " + ".join(medication.ingredients) or "the current order"


def agents(medications: Iterable[MedicationFact]) -> str:
    return either(list(dict.fromkeys(agent_name(m) for m in medications)), "and")


def either(words: Sequence[str], conjunction: str = "or") -> str:
    """ "a", "a or b", "a, b or c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
