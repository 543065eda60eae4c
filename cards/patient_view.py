"""The patient-view answer: one calm summary card, plus warnings already true of the chart."""

from __future__ import annotations

from cards import catalog
from cards.models import Action, Card, Indicator, Suggestion
from cards.precautions import RENDER
from cards.source import source
from cards.wording import CLASS_NAMES, REASSESS, bullets, condition_line, order_line
from facts.dose import UnknownDose
from facts.patient import PatientFacts
from guideline.ladder import Assessment, Step
from guideline.precautions import Finding, Rule
from guideline.therapies import Therapy

STEP_TEXT: dict[Step, str] = {
    Step.START: "Step 1: no first-line agent recorded yet.",
    Step.ADD_OR_SWITCH: "Step 1: first-line treatment started, not yet combined.",
    Step.COMBINATION: "Step 2: two first-line classes in use together.",
    Step.SECOND_LINE: "Step 3: second-line treatment tried on top of a combination.",
}

NEXT_TEXT: dict[Step, str] = {
    Step.START: "Begin with gabapentin or pregabalin. For localized pain, add a lidocaine 5% "
    "patch on the residual limb.",
    Step.ADD_OR_SWITCH: "If relief is insufficient or side effects are intolerable, add or "
    "switch to a TCA (nortriptyline or desipramine) or an SNRI (duloxetine or venlafaxine). "
    "For a partial response, combine agents from different first-line classes "
    "(e.g. gabapentin plus nortriptyline).",
    Step.COMBINATION: "For a partial response, add mirror therapy or exercise therapy "
    "(at least 30 minutes twice weekly). If the response to the combination stays "
    "inadequate, consider ketamine or the topical amitriptyline/ketamine compound, and "
    "short-term opioid therapy only for severe exacerbations.",
    Step.SECOND_LINE: "If pain stays refractory, consider referral for spinal cord "
    "stimulation, transcranial magnetic stimulation or scrambler therapy, and a "
    "multidisciplinary approach with psychological interventions.",
}

SUMMARY: dict[Step, str] = {
    Step.START: "Phantom limb pain: guideline starts with gabapentin or pregabalin",
    Step.ADD_OR_SWITCH: "Phantom limb pain, step 1: if relief is insufficient, add or switch "
    "to a TCA or SNRI",
    Step.COMBINATION: "Phantom limb pain, step 2: add mirror or exercise therapy; if "
    "inadequate, consider ketamine",
    Step.SECOND_LINE: "Phantom limb pain, refractory: consider spinal cord stimulation and a "
    "multidisciplinary approach",
}
NEXT_TEXT_HEART = (
    "If relief is insufficient or side effects are intolerable, add or switch to an SNRI "
    "(duloxetine or venlafaxine). For a partial response, combine agents from different "
    "first-line classes."
)
SUMMARY_HEART = "Phantom limb pain, step 1: if relief is insufficient, add or switch to an SNRI"
SUMMARY_START_AGAIN = "Phantom limb pain: consider gabapentin or pregabalin, the first-line start"


def summary_card(
    facts: PatientFacts, assessment: Assessment, findings: list[Finding], patient_id: str
) -> Card:
    reason = facts.reason_reference
    suggestions = [
        Suggestion(
            label=catalog.label(therapy),
            actions=[
                Action(
                    type="create",
                    description=f"Draft order: {catalog.label(therapy)}",
                    resource=catalog.resource(therapy, patient_id, reason),
                )
            ],
        )
        for therapy in assessment.next_therapies
    ]
    return Card(
        summary=_summary(assessment),
        detail=_detail(facts, assessment, findings),
        indicator=Indicator.INFO,
        source=source("treatment-step"),
        suggestions=suggestions,
        selectionBehavior="any" if suggestions else None,
    )


def _summary(assessment: Assessment) -> str:
    if assessment.step is Step.ADD_OR_SWITCH:
        if Therapy.GABAPENTIN in assessment.next_therapies:
            return SUMMARY_START_AGAIN
        if assessment.tca_withheld_for_heart:
            return SUMMARY_HEART
    return SUMMARY[assessment.step]


def _next_text(assessment: Assessment) -> str:
    return NEXT_TEXT_HEART if assessment.tca_withheld_for_heart else NEXT_TEXT[assessment.step]


def _detail(facts: PatientFacts, assessment: Assessment, findings: list[Finding]) -> str:
    tried = [
        f"{CLASS_NAMES[therapy_class]}: {order_line(m)}"
        for therapy_class, meds in assessment.tried.items()
        for m in meds
    ]
    sections = [
        f"**{STEP_TEXT[assessment.step]}**",
        "**Tried so far:**\n" + (bullets(tried) if tried else "- nothing the guideline names"),
        f"**Next, per the guideline:** {_next_text(assessment)}",
    ]
    if assessment.tca_withheld_for_heart:
        sections.append(
            "**Heart:** TCAs are not suggested because the record shows "
            + "; ".join(condition_line(c) for c in facts.heart)
            + ". The guideline prefers an SNRI (duloxetine or venlafaxine) when the heart "
            "is a concern."
        )
    elif assessment.snri_preferred_for_risk:
        sections.append(
            "**Cardiovascular risk factors:** "
            + "; ".join(condition_line(c) for c in facts.risk_factors)
            + ". The guideline suggests considering an SNRI as the alternative to a TCA."
        )
    unknown = [
        f"{order_line(m)}: {m.dose.reason}"
        for f in findings
        if f.rule is Rule.TCA_DOSE_UNKNOWN
        for m in f.orders
        if isinstance(m.dose, UnknownDose)
    ]
    if unknown:
        sections.append(
            "**TCA dose not verified** against the 100 mg/day limit:\n" + bullets(unknown)
        )
    sections.append(f"**{REASSESS}**")
    sections.append(
        "Phantom limb pain on record: "
        + "; ".join(condition_line(c) for c in facts.phantom_limb_pain)
    )
    return "\n\n".join(sections)


def patient_view_cards(
    facts: PatientFacts, assessment: Assessment, findings: list[Finding], patient_id: str
) -> list[Card]:
    cards = [summary_card(facts, assessment, findings, patient_id)]
    cards.extend(RENDER[f.rule](f) for f in findings if f.rule in RENDER)
    return cards
