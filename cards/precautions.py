"""Precaution findings (GUIDELINE §4) → cards. The guideline has decided the severity and
the alternatives; this module only words them.

Summaries are fixed text and computed figures only, never words the EHR sent: summaries are
stored with the card record, which must hold no patient data. The detail names the orders
and conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cards.actions import Drafting
from cards.markdown import escape_markdown
from cards.models import Card, Suggestion
from cards.source import override_reasons, source
from cards.wording import (
    THERAPY_NAMES,
    allergy_line,
    bullets,
    condition_line,
    order_line,
    splint_line,
)
from facts.dose import DoseGap, UnknownDose, fmt
from guideline.findings import Exclusion, Finding, Reason, Rule, Severity
from guideline.precautions import TCA_DAILY_LIMIT_MG

SNRI_ALTERNATIVE = "An SNRI (duloxetine or venlafaxine) is the guideline's alternative."
# When every SNRI is ruled out (an allergy or intolerance, tried before), the card must not
# send the prescriber towards one.
NO_SNRI = "None can be offered for this patient (below)."
LIMIT = f"{fmt(TCA_DAILY_LIMIT_MG)} mg/day"


@dataclass(frozen=True, slots=True)
class Offer:
    """A card's suggestions and how many may be chosen."""

    suggestions: list[Suggestion] | None = None
    selection: Literal["at-most-one", "any"] | None = None


def offer(finding: Finding, drafting: Drafting) -> Offer:
    """The finding's alternatives as suggestions, of which one may be chosen."""
    built = [drafting.suggestion(a) for a in finding.alternatives]
    suggestions = [s for s in built if s is not None]
    return Offer(suggestions, "at-most-one") if suggestions else Offer()


REASON_TEXT: dict[Reason, str] = {
    Reason.CURRENT: "already prescribed",
    Reason.TRIED: "tried before",
    Reason.ALLERGY: "allergy or intolerance recorded",
    Reason.HEART: "a TCA, and the heart is a concern",
}


def exclusion_line(exclusion: Exclusion, name: str) -> str:
    evidence = [
        *(order_line(m) for m in exclusion.orders),
        *(allergy_line(a) for a in exclusion.allergies),
        *(condition_line(c) for c in exclusion.conditions),
    ]
    return f"{name}: {REASON_TEXT[exclusion.reason]}: {'; '.join(evidence)}"


ALLERGIES_UNCHECKED = (
    "**Allergies and intolerances were not available** to the service: the suggestions "
    "were not checked against them."
)


def left_out(finding: Finding, drafting: Drafting, what: str) -> list[str]:
    sections = []
    if finding.left_out:
        lines = [exclusion_line(e, THERAPY_NAMES[e.therapy]) for e in finding.left_out]
        sections.append(f"**{what} not offered:**\n{bullets(lines)}")
    if finding.alternatives and not drafting.allergies_checked:
        sections.append(ALLERGIES_UNCHECKED)
    return sections


def tcas_beside(finding: Finding) -> list[str]:
    """The TCAs already in effect beside the one ordered: a second TCA, whose dose counts with
    the first (GUIDELINE §4 sums concurrent TCA orders), and which a swap to an SNRI ends too
    (§3: a TCA and an SNRI are never taken together)."""
    if not finding.related:
        return []
    swaps = (
        " The suggestions here stop or remove it as well, so that no TCA is left beside the SNRI."
        if finding.alternatives
        else ""
    )
    return [
        f"**Another TCA already in effect:**\n{bullets(order_line(m) for m in finding.related)}"
        f"\n\nThis order would be a second TCA: the daily dose counts both.{swaps}"
    ]


def snris_ruled_out(finding: Finding) -> bool:
    """No SNRI is offered, and the finding says why (each SNRI left out with its reason)."""
    return not finding.alternatives and bool(finding.left_out)


def tca_heart(finding: Finding, drafting: Drafting) -> Card:
    chosen = offer(finding, drafting)
    hard = finding.severity is Severity.CRITICAL
    ruled_out = snris_ruled_out(finding)
    summary = (
        f"TCA with {'a high-risk cardiac finding' if hard else 'cardiac disease'}: "
        f"use with caution; {'no SNRI can be offered' if ruled_out else 'consider an SNRI instead'}"
    )
    why = (
        "A hard finding is present (a ventricular conduction block, Mobitz II or complete AV "
        "block, long QT, a ventricular arrhythmia or a recent myocardial infarction). "
        if hard
        else ""
    )
    detail = "\n\n".join(
        [
            f"**Tricyclic antidepressant:**\n{bullets(order_line(m) for m in finding.orders)}",
            *tcas_beside(finding),
            f"**Heart:**\n{bullets(condition_line(c) for c in finding.conditions)}",
            why + "The guideline advises caution with TCAs in cardiac disease and conduction "
            f"abnormalities, and keeping the dose below {LIMIT}. "
            + SNRI_ALTERNATIVE
            + (f" {NO_SNRI}" if ruled_out else ""),
            *left_out(finding, drafting, "SNRI swaps"),
        ]
    )
    return Card(
        summary=summary,
        detail=detail,
        indicator=finding.severity,
        source=source("tca-heart"),
        overrideReasons=override_reasons(
            "benefit-outweighs-risk", "alternative-not-suitable", "cardiology-reviewed"
        ),
        suggestions=chosen.suggestions,
        selectionBehavior=chosen.selection,
    )


def tca_dose(finding: Finding, drafting: Drafting) -> Card:
    total = finding.total_mg_per_day or 0.0
    lines = [f"{order_line(m)}: {escape_markdown(dose.arithmetic)}" for m, dose in finding.doses]
    return Card(
        summary=f"TCA total {fmt(total)} mg/day: the guideline prefers below {LIMIT}",
        detail="\n\n".join(
            [
                f"**Daily tricyclic dose:**\n{bullets(lines)}",
                f"**Total: {fmt(total)} mg/day**, at or above {LIMIT}: the guideline keeps "
                f"the total TCA dose preferably below {LIMIT}.",
            ]
        ),
        indicator=finding.severity,
        source=source("tca-dose"),
        overrideReasons=override_reasons("dose-intended", "benefit-outweighs-risk"),
    )


def unknown_dose_lines(finding: Finding) -> list[str]:
    return [
        f"{order_line(m)}: {escape_markdown(m.dose.reason)}"
        for m in finding.orders
        if isinstance(m.dose, UnknownDose)
    ]


# At order-select, what the summary says about a dose not worked out, by what keeps it from
# being worked out: only a dose still being written is "not yet complete".
UNKNOWN_AT_SELECTION: dict[frozenset[DoseGap], str] = {
    frozenset({DoseGap.NOT_WRITTEN}): f"TCA dose not yet complete: the {LIMIT} check will run "
    "at signing",
    frozenset({DoseGap.STRENGTH}): "TCA product strength could not be read: check the daily "
    f"dose against {LIMIT}",
}
UNKNOWN_OTHERWISE = f"TCA daily dose could not be worked out: check it against {LIMIT}"
KEEP_BELOW = f"Check that the total tricyclic dose stays preferably below {LIMIT}."


def tca_dose_unknown(finding: Finding, drafting: Drafting) -> Card:
    reasons = unknown_dose_lines(finding)
    gaps = frozenset(m.dose.gap for m in finding.orders if isinstance(m.dose, UnknownDose))
    if finding.severity is Severity.INFO:
        written = gaps == {DoseGap.NOT_WRITTEN}
        return Card(
            summary=UNKNOWN_AT_SELECTION.get(gaps, UNKNOWN_OTHERWISE),
            detail=f"**{'Not yet known' if written else 'Not worked out'}:**\n{bullets(reasons)}"
            + ("" if written else f"\n\n{KEEP_BELOW}"),
            indicator=finding.severity,
            source=source("tca-dose"),
        )
    return Card(
        summary=f"TCA daily dose could not be verified against the {LIMIT} limit",
        detail=f"**Why:**\n{bullets(reasons)}\n\n{KEEP_BELOW}",
        indicator=finding.severity,
        source=source("tca-dose"),
        overrideReasons=override_reasons("dose-intended"),
    )


def tca_cv_risk(finding: Finding, drafting: Drafting) -> Card:
    chosen = offer(finding, drafting)
    ruled_out = snris_ruled_out(finding)
    return Card(
        summary="TCA with cardiovascular risk factors: "
        + ("no SNRI can be offered" if ruled_out else "consider an SNRI instead"),
        detail="\n\n".join(
            [
                f"**Tricyclic antidepressant:**\n{bullets(order_line(m) for m in finding.orders)}",
                *tcas_beside(finding),
                "**Cardiovascular risk factors:**\n"
                + bullets(condition_line(c) for c in finding.conditions),
                "For patients with cardiovascular risk factors the guideline suggests "
                "considering an SNRI as the alternative to a TCA."
                + (f" {NO_SNRI}" if ruled_out else ""),
                *left_out(finding, drafting, "SNRI swaps"),
            ]
        ),
        indicator=finding.severity,
        source=source("tca-cv-risk"),
        suggestions=chosen.suggestions,
        selectionBehavior=chosen.selection,
    )


def tca_snri_stacked(finding: Finding, drafting: Drafting) -> Card:
    chosen = offer(finding, drafting)
    sections = [
        f"**Ordered:**\n{bullets(order_line(m) for m in finding.orders)}",
    ]
    if finding.related:
        sections.append(f"**Already in place:**\n{bullets(order_line(m) for m in finding.related)}")
    sections.append(
        "The guideline offers a TCA and an SNRI as alternatives, never together: both act on "
        "serotonin and noradrenaline, and duloxetine raises TCA levels. Switch from one to "
        "the other rather than adding it."
    )
    if finding.conditions:
        sections.append(
            "**Heart:**\n"
            + bullets(condition_line(c) for c in finding.conditions)
            + "\n\nThe heart is a concern, so no switch towards the TCA is offered."
        )
    return Card(
        summary="TCA and SNRI together: they are alternatives; switch from one to the other",
        detail="\n\n".join(sections),
        indicator=finding.severity,
        source=source("tca-snri-stacked"),
        overrideReasons=override_reasons("cross-taper", "benefit-outweighs-risk"),
        suggestions=chosen.suggestions,
        selectionBehavior=chosen.selection,
    )


def opioid(finding: Finding, drafting: Drafting) -> Card:
    sections = [
        f"**Opioid order:**\n{bullets(order_line(m) for m in finding.orders)}",
        "In phantom limb pain the guideline keeps opioids for acute pain or severe "
        "episodic exacerbations, short term, and with caution: they carry a risk of "
        "dependency and of opioid-induced hyperalgesia.",
    ]
    if finding.related:
        sections.append(
            "**Opioid agonist treatment** for opioid use disorder is in place (not part of "
            "this caution):\n" + bullets(order_line(m) for m in finding.related)
        )
    return Card(
        summary="Opioid order: short-term use, for severe exacerbations only",
        detail="\n\n".join(sections),
        indicator=finding.severity,
        source=source("opioid"),
        overrideReasons=override_reasons("short-term-exacerbation", "benefit-outweighs-risk"),
    )


def long_term_opioid(finding: Finding, drafting: Drafting) -> Card:
    since = finding.since.isoformat() if finding.since else "an unknown date"
    until = finding.until.isoformat() if finding.until else "today"
    return Card(
        summary="Opioids in continuous use for more than 90 days: the guideline advises "
        "short-term use; reassess",
        detail="\n\n".join(
            [
                f"**Opioid orders, in continuous use from {since} to {until} "
                f"({finding.days} days; renewals less than 30 days apart joined):**\n"
                + bullets(order_line(m) for m in finding.orders),
                "The guideline keeps opioids for acute phantom limb pain or severe episodic "
                "exacerbations, short term, because of the risk of dependency and of "
                "opioid-induced hyperalgesia. Use beyond 90 days is long-term opioid therapy "
                "(CDC's definition): reassess the need and the plan.",
            ]
        ),
        indicator=finding.severity,
        source=source("long-term-opioid"),
        overrideReasons=override_reasons("opioid-plan-reviewed", "benefit-outweighs-risk"),
    )


def tertiary_amine_tca(finding: Finding, drafting: Drafting) -> Card:
    chosen = offer(finding, drafting)
    return Card(
        summary="Tertiary-amine TCA: the guideline's TCAs are nortriptyline or desipramine",
        detail="\n\n".join(
            [
                f"**Order:**\n{bullets(order_line(m) for m in finding.orders)}",
                "The guideline names the secondary-amine TCAs nortriptyline and desipramine as "
                "the first-line tricyclics for phantom limb pain.",
                *left_out(finding, drafting, "Secondary-amine swaps"),
            ]
        ),
        indicator=finding.severity,
        source=source("tertiary-amine-tca"),
        suggestions=chosen.suggestions,
        selectionBehavior=chosen.selection,
    )


def splinting(finding: Finding, drafting: Drafting) -> Card:
    chosen = offer(finding, drafting)
    orders = bullets(splint_line(s) for s in finding.splints)
    advice = (
        "The guideline advises against splinting the residual limb: it increases focus on "
        "the limb and deconditions its muscles."
    )
    if finding.severity is Severity.INFO:
        return Card(
            summary="Splint order without a site: avoid splinting the residual limb",
            detail=f"**Order:**\n{orders}\n\nIf this splint is for the residual limb: {advice}",
            indicator=finding.severity,
            source=source("splinting"),
        )
    return Card(
        summary="Splinting the residual limb: the guideline advises against it",
        detail=f"**Order:**\n{orders}\n\n{advice}",
        indicator=finding.severity,
        source=source("splinting"),
        overrideReasons=override_reasons("not-residual-limb", "benefit-outweighs-risk"),
        suggestions=chosen.suggestions,
        selectionBehavior=chosen.selection,
    )


RENDER: dict[Rule, Callable[[Finding, Drafting], Card]] = {
    Rule.TCA_HEART: tca_heart,
    Rule.TCA_DOSE: tca_dose,
    Rule.TCA_DOSE_UNKNOWN: tca_dose_unknown,
    Rule.TCA_CV_RISK: tca_cv_risk,
    Rule.TCA_SNRI_STACKED: tca_snri_stacked,
    Rule.OPIOID: opioid,
    Rule.LONG_TERM_OPIOID: long_term_opioid,
    Rule.TERTIARY_AMINE_TCA: tertiary_amine_tca,
    Rule.SPLINTING: splinting,
}


def render(findings: tuple[Finding, ...], drafting: Drafting) -> list[Card]:
    """Cards for the findings, the most serious first, as a prescriber reads top down."""
    ordered = sorted(findings, key=lambda f: f.severity.rank)
    return [RENDER[f.rule](f, drafting) for f in ordered]
