"""Cards for order-select and order-sign: one card per precaution, with one-click fixes.

A fix never creates an order that raises the same card again: a TCA is swapped for an SNRI
(heart, risk factors) or for a secondary-amine TCA only when neither concern applies.
"""

from __future__ import annotations

from cards import catalog
from cards.models import Action, Card, Indicator, Suggestion
from cards.precautions import RENDER, splinting, tca_dose_unknown
from facts.medications import MedicationFact
from facts.patient import PatientFacts
from guideline.precautions import Finding, Rule
from guideline.therapies import SNRIS, Therapy

SECONDARY_AMINE_TCAS = (Therapy.NORTRIPTYLINE, Therapy.DESIPRAMINE)
# The most serious card first, as a prescriber reads top down.
SEVERITY_ORDER = {Indicator.CRITICAL: 0, Indicator.WARNING: 1, Indicator.INFO: 2}


def order_cards(
    findings: list[Finding], facts: PatientFacts, patient_id: str, *, at_signing: bool
) -> list[Card]:
    cards = [_card(f, facts, patient_id, at_signing) for f in findings]
    return sorted(cards, key=lambda card: SEVERITY_ORDER[card.indicator])


def _card(finding: Finding, facts: PatientFacts, patient_id: str, at_signing: bool) -> Card:
    if finding.rule is Rule.TCA_DOSE_UNKNOWN:
        return tca_dose_unknown(finding, at_signing=at_signing)
    if finding.rule is Rule.SPLINTING:
        return splinting(finding)
    card = RENDER[finding.rule](finding)
    replacements = _replacements(finding, facts)
    deletable = _deletable(finding.orders)
    if not replacements or not deletable:
        return card
    reason = facts.reason_reference
    suggestions = [_swap(deletable, therapy, patient_id, reason) for therapy in replacements]
    return card.model_copy(update={"suggestions": suggestions, "selectionBehavior": "at-most-one"})


def _replacements(finding: Finding, facts: PatientFacts) -> tuple[Therapy, ...]:
    if finding.rule in (Rule.TCA_HEART, Rule.TCA_CV_RISK):
        return SNRIS
    if finding.rule is Rule.TERTIARY_AMINE_TCA and not facts.heart and not facts.risk_factors:
        return SECONDARY_AMINE_TCAS
    return ()


def _deletable(orders: tuple[MedicationFact, ...]) -> tuple[MedicationFact, ...]:
    """The orders a swap removes; a swap needs every one of them to have an id."""
    if any("/" not in m.reference for m in orders):
        return ()
    return orders


def _swap(
    orders: tuple[MedicationFact, ...], therapy: Therapy, patient_id: str, reason: str | None
) -> Suggestion:
    name = catalog.label(therapy)
    actions = [
        Action(
            type="delete",
            description=f"Remove the draft order for {m.label}",
            resourceId=m.reference,
        )
        for m in orders
    ]
    actions.append(
        Action(
            type="create",
            description=f"Draft order: {name} (set dose and directions)",
            resource=catalog.resource(therapy, patient_id, reason),
        )
    )
    return Suggestion(label=f"Replace with {name.lower()}", actions=actions)
