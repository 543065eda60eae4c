"""Precaution findings (GUIDELINE §4) → warning, critical or info cards.

Summaries are fixed text and computed figures only, never words the EHR sent: summaries are
stored with the card record, which must hold no patient data. The detail names the orders
and conditions.
"""

from __future__ import annotations

from collections.abc import Callable

from cards.models import Action, Card, Indicator, Suggestion
from cards.source import override_reasons, source
from cards.wording import bullets, condition_line, order_line
from facts.dose import UnknownDose, fmt
from guideline.precautions import TCA_DAILY_LIMIT_MG, Finding, Rule

SNRI_ALTERNATIVE = "An SNRI (duloxetine or venlafaxine) is the guideline's alternative."


def tca_heart(finding: Finding) -> Card:
    hard = finding.severity.value == "critical"
    summary = (
        f"TCA with {'a conduction abnormality' if hard else 'cardiac disease'}: "
        f"use with caution; consider an SNRI instead"
    )
    detail = "\n\n".join(
        [
            f"**Tricyclic antidepressant:**\n{bullets(order_line(m) for m in finding.orders)}",
            f"**Heart:**\n{bullets(condition_line(c) for c in finding.conditions)}",
            "The guideline advises caution with TCAs in cardiac disease and ventricular "
            "conduction abnormalities, and keeping the dose below 100 mg/day. " + SNRI_ALTERNATIVE,
        ]
    )
    return Card(
        summary=summary,
        detail=detail,
        indicator=Indicator(finding.severity.value),
        source=source("tca-heart"),
        overrideReasons=override_reasons(
            "benefit-outweighs-risk", "alternative-not-suitable", "cardiology-reviewed"
        ),
    )


def tca_dose(finding: Finding) -> Card:
    total = finding.total_mg_per_day or 0.0
    lines = [f"{order_line(m)}: {dose.arithmetic}" for m, dose in finding.doses]
    return Card(
        summary=f"TCA total {fmt(total)} mg/day is above the {fmt(TCA_DAILY_LIMIT_MG)} mg/day "
        "the guideline prefers",
        detail="\n\n".join(
            [
                f"**Daily tricyclic dose:**\n{bullets(lines)}",
                f"**Total: {fmt(total)} mg/day.** The guideline advises keeping TCA doses "
                f"preferably below {fmt(TCA_DAILY_LIMIT_MG)} mg/day.",
            ]
        ),
        indicator=Indicator.WARNING,
        source=source("tca-dose"),
        overrideReasons=override_reasons("dose-intended", "benefit-outweighs-risk"),
    )


def tca_dose_unknown(finding: Finding, *, at_signing: bool) -> Card:
    reasons = [
        f"{order_line(m)}: {m.dose.reason}"
        for m in finding.orders
        if isinstance(m.dose, UnknownDose)
    ]
    if at_signing:
        return Card(
            summary="TCA daily dose could not be verified against the 100 mg/day limit",
            detail=f"**Why:**\n{bullets(reasons)}\n\nCheck that the total tricyclic dose stays "
            "preferably below 100 mg/day.",
            indicator=Indicator.WARNING,
            source=source("tca-dose"),
            overrideReasons=override_reasons("dose-intended"),
        )
    return Card(
        summary="TCA dose not yet complete: the 100 mg/day check will run at signing",
        detail=f"**Not yet known:**\n{bullets(reasons)}",
        indicator=Indicator.INFO,
        source=source("tca-dose"),
    )


def tca_cv_risk(finding: Finding) -> Card:
    return Card(
        summary="TCA with cardiovascular risk factors: consider an SNRI instead",
        detail="\n\n".join(
            [
                f"**Tricyclic antidepressant:**\n{bullets(order_line(m) for m in finding.orders)}",
                "**Cardiovascular risk factors:**\n"
                + bullets(condition_line(c) for c in finding.conditions),
                "For patients with cardiovascular risk factors the guideline suggests "
                "considering an SNRI as the alternative to a TCA.",
            ]
        ),
        indicator=Indicator.INFO,
        source=source("tca-cv-risk"),
    )


def opioid(finding: Finding) -> Card:
    return Card(
        summary="Opioid order: short-term use, for severe exacerbations only",
        detail="\n\n".join(
            [
                f"**Opioid order:**\n{bullets(order_line(m) for m in finding.orders)}",
                "In phantom limb pain the guideline keeps opioids for acute pain or severe "
                "episodic exacerbations, short term, and with caution: they carry a risk of "
                "dependency and of opioid-induced hyperalgesia.",
            ]
        ),
        indicator=Indicator.WARNING,
        source=source("opioid"),
        overrideReasons=override_reasons("short-term-exacerbation", "benefit-outweighs-risk"),
    )


def tertiary_amine_tca(finding: Finding) -> Card:
    return Card(
        summary="Tertiary-amine TCA: the guideline's TCAs are nortriptyline or desipramine",
        detail=f"**Order:**\n{bullets(order_line(m) for m in finding.orders)}\n\n"
        "The guideline names the secondary-amine TCAs nortriptyline and desipramine as the "
        "first-line tricyclics for phantom limb pain.",
        indicator=Indicator.INFO,
        source=source("tertiary-amine-tca"),
    )


RENDER: dict[Rule, Callable[[Finding], Card]] = {
    Rule.TCA_HEART: tca_heart,
    Rule.TCA_DOSE: tca_dose,
    Rule.TCA_CV_RISK: tca_cv_risk,
    Rule.OPIOID: opioid,
    Rule.TERTIARY_AMINE_TCA: tertiary_amine_tca,
}


def splinting(finding: Finding) -> Card:
    on_limb = finding.severity.value == "warning"
    orders = bullets(f"{s.label} ({s.reference})" for s in finding.splints)
    advice = (
        "The guideline advises against splinting the residual limb: it increases focus on "
        "the limb and deconditions its muscles."
    )
    deletable = [s for s in finding.splints if "/" in s.reference]
    suggestions = [
        Suggestion(
            label="Remove the splint order",
            actions=[
                Action(type="delete", description=f"Remove {s.label}", resourceId=s.reference)
                for s in deletable
            ],
        )
    ]
    if on_limb:
        return Card(
            summary="Splinting the residual limb: the guideline advises against it",
            detail=f"**Order:**\n{orders}\n\n{advice}",
            indicator=Indicator.WARNING,
            source=source("splinting"),
            suggestions=suggestions if deletable else None,
            selectionBehavior="at-most-one" if deletable else None,
            overrideReasons=override_reasons("not-residual-limb", "benefit-outweighs-risk"),
        )
    return Card(
        summary="Splint order without a site: avoid splinting the residual limb",
        detail=f"**Order:**\n{orders}\n\nIf this splint is for the residual limb: {advice}",
        indicator=Indicator.INFO,
        source=source("splinting"),
    )
