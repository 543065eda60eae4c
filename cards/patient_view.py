"""The patient-view answer: the warnings already true of the chart, then one calm summary card.

The summary and the detail are written from the same plan, so the summary names the next
step the detail explains.
"""

from __future__ import annotations

from collections.abc import Mapping

from cards.actions import Drafting
from cards.arrange import arrange, offered_by, offered_elsewhere, signature
from cards.models import Card, Suggestion
from cards.precautions import ALLERGIES_UNCHECKED, exclusion_line, render, unknown_dose_lines
from cards.response import response_sections
from cards.source import source
from cards.wording import (
    CLASS_NAMES,
    REASSESS,
    THERAPY_NAMES,
    agents,
    allergy_line,
    bullets,
    condition_line,
    either,
    order_line,
)
from guideline.findings import Reason, Rule, Severity
from guideline.hooks import ChartAdvice
from guideline.ladder import OpioidOption, Option, Plan, Stage, Step
from guideline.therapies import (
    GABAPENTINOIDS,
    SNRIS,
    STEP_3_OPTIONS,
    TCAS,
    Therapy,
)

STEP_TEXT: dict[Step, str] = {
    Step.START: "Step 1: no first-line agent recorded yet.",
    Step.ADD_OR_SWITCH: "Step 1: first-line treatment started, not yet combined.",
    Step.COMBINATION: "Step 2: two first-line classes in use together.",
    Step.SECOND_LINE: "Step 3: second-line treatment tried on top of a combination.",
}
STEP_LABEL: dict[Step, str] = {
    Step.START: "step 1",
    Step.ADD_OR_SWITCH: "step 1",
    Step.COMBINATION: "step 2",
    Step.SECOND_LINE: "refractory",
}
STEP_3_NAMES: dict[Therapy, str] = {
    Therapy.KETAMINE: "ketamine",
    Therapy.TOPICAL_COMPOUND: "the topical amitriptyline/ketamine compound",
}
STEP_3_SHORT: dict[Therapy, str] = {
    Therapy.KETAMINE: "ketamine",
    Therapy.TOPICAL_COMPOUND: "the topical compound",
}
REFERRAL = (
    "referral for spinal cord stimulation, transcranial magnetic stimulation or scrambler "
    "therapy, and a multidisciplinary approach with psychological interventions"
)
PASSED_TEXT: dict[Stage, str] = {
    Stage.ADD_OR_SWITCH: "Every TCA and SNRI the guideline suggests is ruled out for this "
    "patient (reasons below), so the next step's options are offered.",
    Stage.COMBINE: "No gabapentinoid can be added and no switch between a TCA and an SNRI can "
    "be offered (reasons below), so the next step's options are offered.",
    Stage.STEP_2: "None of step 3's options can be offered (reasons below), so step 4's are.",
}
PATCH = "For localized pain, add a lidocaine 5% patch on the residual limb."


def _offered(
    plan: Plan, among: tuple[Therapy, ...], *, switch: bool | None = None
) -> list[Therapy]:
    return [
        o.therapy
        for o in plan.options
        if o.therapy in among and (switch is None or bool(o.stops) == switch)
    ]


def _names(therapies: list[Therapy]) -> str:
    return either([THERAPY_NAMES[t] for t in therapies])


def _classes(plan: Plan, *, switch: bool | None = None, long: bool = False) -> str:
    """ "a TCA or SNRI", "an SNRI (duloxetine or venlafaxine)", … for what is offered."""
    tcas, snris = _offered(plan, TCAS, switch=switch), _offered(plan, SNRIS, switch=switch)
    if plan.snri_first:
        groups = [("an SNRI", snris), ("a TCA", tcas)]
    else:
        groups = [("a TCA", tcas), ("an SNRI", snris)]
    present = [(name, agents_) for name, agents_ in groups if agents_]
    if long:
        return " or ".join(f"{name} ({_names(list(a))})" for name, a in present)
    if len(present) == 2:
        return f"{present[0][0]} or {present[1][0].removeprefix('an ').removeprefix('a ')}"
    return present[0][0] if present else ""


def _step_3_first(plan: Plan) -> str:
    if Stage.STEP_2 in plan.passed:
        return "spinal cord stimulation"
    offered = _offered(plan, STEP_3_OPTIONS)
    if offered:
        return STEP_3_SHORT[offered[0]]
    return "short-term opioids for severe exacerbations"


def _phase(plan: Plan) -> Stage:
    """The stage the card words: step 2's, when step 3's options were all ruled out and
    step 4's referrals are offered beside step 2's add-ons."""
    return Stage.STEP_2 if Stage.STEP_2 in plan.passed else plan.stage


def summary(plan: Plan) -> str:
    label = STEP_LABEL[plan.step]
    stage = _phase(plan)
    if stage is Stage.BEGIN:
        gabapentinoids = _names(_offered(plan, GABAPENTINOIDS))
        if plan.step is Step.START:
            return f"Phantom limb pain: guideline starts with {gabapentinoids}"
        return f"Phantom limb pain: consider {gabapentinoids}, the first-line start"
    if stage is Stage.STEP_4:
        return (
            "Phantom limb pain, refractory: consider spinal cord stimulation and a "
            "multidisciplinary approach"
        )
    if stage is Stage.ADD_OR_SWITCH:
        return (
            f"Phantom limb pain, {label}: if relief is insufficient, add or switch to "
            f"{_classes(plan)}"
        )
    if stage is Stage.COMBINE:
        partners = _names(_offered(plan, GABAPENTINOIDS, switch=False))
        switch = _classes(plan, switch=True)
        moves = [f"add {partners}" if partners else "", f"switch to {switch}" if switch else ""]
        return f"Phantom limb pain, {label}: if relief is insufficient, " + ", or ".join(
            m for m in moves if m
        )
    passed = "first-line options excluded; " if plan.step is Step.ADD_OR_SWITCH else ""
    return (
        f"Phantom limb pain, {label}: {passed}add mirror or exercise therapy; if inadequate, "
        f"consider {_step_3_first(plan)}"
    )


def _next(plan: Plan) -> str:
    """The guideline's next step, in the order the summary names it."""
    parts = [PASSED_TEXT[s] for s in plan.passed if s in PASSED_TEXT and s is not Stage.STEP_2]
    stage = _phase(plan)
    if stage is Stage.BEGIN:
        gabapentinoids = _names(_offered(plan, GABAPENTINOIDS))
        if plan.step is Step.START:
            parts.append(f"Begin with {gabapentinoids}.")
        else:
            parts.append(f"Begin with {gabapentinoids}, the guideline's first-line start.")
            if _classes(plan):
                parts.append(
                    "If relief is insufficient or side effects are intolerable, add or switch "
                    f"to {_classes(plan, long=True)}."
                )
    elif stage is Stage.ADD_OR_SWITCH:
        first = next(o.therapy for o in plan.options if o.therapy in (*TCAS, *SNRIS))
        parts.append(
            "If relief is insufficient or side effects are intolerable, add or switch to "
            f"{_classes(plan, long=True)}. For a partial response, combine agents from "
            f"different first-line classes (e.g. gabapentin plus {THERAPY_NAMES[first]})."
        )
    elif stage is Stage.COMBINE:
        parts.append(_combine_text(plan))
    elif stage is Stage.STEP_2:
        parts.append(_step_2_text(plan))
    else:
        parts.append(f"If pain stays refractory, consider {REFERRAL}.")
    if Therapy.LIDOCAINE_PATCH in plan.therapies:
        parts.append(PATCH)
    return " ".join(parts)


def _combine_text(plan: Plan) -> str:
    current = agents(plan.anchored_on)
    partners = _names(_offered(plan, GABAPENTINOIDS, switch=False))
    switch = _classes(plan, switch=True, long=True)
    text = "A TCA and an SNRI are alternatives, never taken together. If relief is insufficient"
    moves = []
    if partners:
        moves.append(
            f"add {partners} to the current {current} (agents from different first-line "
            "classes, for a partial response)"
        )
    if switch:
        moves.append(
            f"switch from {current} to {switch}: the switch drafts the new agent and stops the "
            "current order"
        )
    return f"{text}, {', or '.join(moves)}."


def _step_2_text(plan: Plan) -> str:
    text = (
        "For a partial response, add mirror therapy or exercise therapy (at least 30 minutes "
        "twice weekly)."
    )
    if Stage.STEP_2 in plan.passed:
        passed = PASSED_TEXT[Stage.STEP_2]
        return f"{text} {passed} If the response stays inadequate, consider {REFERRAL}."
    options = [STEP_3_NAMES[t] for t in _offered(plan, STEP_3_OPTIONS)]
    if plan.opioid_option is OpioidOption.OFFERED:
        options.append("short-term opioid therapy only for severe exacerbations")
    return f"{text} If the response stays inadequate, consider {either(options, 'and')}."


def _tried(plan: Plan) -> list[str]:
    tried = [
        f"{CLASS_NAMES[therapy_class]}: {order_line(m)}"
        for therapy_class, meds in plan.tried
        for m in meds
    ]
    sections = [
        "**Tried so far:**\n" + (bullets(tried) if tried else "- nothing the guideline names")
    ]
    if plan.not_tolerated:
        sections.append(
            "**Not tolerated** (an allergy or intolerance is recorded; counted as tried):\n"
            + bullets(allergy_line(a) for a in plan.not_tolerated)
        )
    if plan.agonist_treatment:
        sections.append(
            "**Opioid agonist treatment** for opioid use disorder (not part of the ladder):\n"
            + bullets(order_line(m) for m in plan.agonist_treatment)
        )
    return sections


def _left_out(plan: Plan) -> list[str]:
    sections = []
    heart = [e for e in plan.left_out if e.reason is Reason.HEART]
    if heart:
        # The SNRIs the patient could still take: not one ruled out by an allergy or an
        # earlier trial (one taken now is still the preferred class).
        ruled_out = {e.therapy for e in plan.left_out if e.reason in (Reason.ALLERGY, Reason.TRIED)}
        snris = [t for t in SNRIS if t not in ruled_out]
        preferred = (
            f"The guideline prefers an SNRI ({_names(snris)}) when the heart is a concern."
            if snris
            else "The guideline's alternative when the heart is a concern, an SNRI, is ruled "
            "out too (below)."
        )
        sections.append(
            "**Heart:** TCAs are not suggested because the record shows "
            + "; ".join(condition_line(c) for c in plan.heart)
            + f". {preferred}"
        )
    others = {
        e.therapy: e for e in plan.left_out if e.reason is not Reason.HEART
    }  # one reason per therapy
    if others:
        sections.append(
            "**Not offered:**\n"
            + bullets(exclusion_line(e, THERAPY_NAMES[t]) for t, e in others.items())
        )
    if plan.risk_factors and _classes(plan):
        sections.append(
            "**Cardiovascular risk factors:** "
            + "; ".join(condition_line(c) for c in plan.risk_factors)
            + ". The guideline suggests considering an SNRI as the alternative to a TCA."
        )
    if plan.opioid_option is OpioidOption.WITHHELD:
        evidence = [
            *(order_line(m) for m in plan.agonist_treatment),
            *(condition_line(c) for c in plan.opioid_use_disorder),
        ]
        sections.append(
            "**Short-term opioid therapy** for severe exacerbations, one of step 3's options, "
            "is not offered: the patient is on opioid agonist treatment for opioid use "
            f"disorder ({'; '.join(evidence)})."
        )
    return sections


def _detail(advice: ChartAdvice, drafting: Drafting, moved: Mapping[str, Card]) -> str:
    plan = advice.plan
    sections = [f"**{STEP_TEXT[plan.step]}**", *_tried(plan)]
    sections.append(f"**Next, per the guideline:** {_next(plan)}")
    if moved:
        sections.append(offered_elsewhere(moved))
    sections.extend(_left_out(plan))
    if not drafting.allergies_checked:
        sections.append(ALLERGIES_UNCHECKED)
    unknown = [
        line
        for f in advice.findings
        if f.rule is Rule.TCA_DOSE_UNKNOWN
        for line in unknown_dose_lines(f)
    ]
    if unknown:
        sections.append(
            "**TCA dose not verified** against the 100 mg/day limit:\n" + bullets(unknown)
        )
    sections.extend(response_sections(advice.response))
    sections.append(f"**{REASSESS}**")
    sections.append(
        "Phantom limb pain on record: "
        + "; ".join(condition_line(c) for c in advice.phantom_limb_pain)
    )
    return "\n\n".join(sections)


def _suggestion(option: Option, drafting: Drafting) -> Suggestion | None:
    if option.stops:
        return drafting.switch(option.therapy, option.stops)
    name = drafting.catalog.label(option.therapy)
    return Suggestion(label=name, actions=[drafting.create(option.therapy)])


def summary_card(
    advice: ChartAdvice, drafting: Drafting, elsewhere: Mapping[bytes, Card] | None = None
) -> Card:
    """The next-step card. A suggestion a precaution card already offers (`elsewhere`, by
    what it does) is left to that card, and the detail says where it is."""
    kept: list[tuple[Option, Suggestion]] = []
    moved: dict[str, Card] = {}
    for option in advice.plan.options:
        suggestion = _suggestion(option, drafting)
        if suggestion is None:
            continue
        owner = (elsewhere or {}).get(signature(suggestion))
        if owner is not None:
            moved[suggestion.label] = owner
        else:
            kept.append((option, suggestion))
    suggestions = [s for _, s in kept]
    # Two switches of one current order cannot both be taken; otherwise any may be.
    switching = any(o.stops for o, _ in kept)
    return Card(
        summary=summary(advice.plan),
        detail=_detail(advice, drafting, moved),
        indicator=Severity.INFO,
        source=source("treatment-step"),
        suggestions=suggestions,
        selectionBehavior=("at-most-one" if switching else "any") if suggestions else None,
    )


def patient_view_cards(advice: ChartAdvice, drafting: Drafting) -> list[Card]:
    """The precautions already true of the chart, then the next-step summary (clients may not
    sort by indicator); a suggestion both would offer stays on the precaution."""
    warnings = render(
        tuple(f for f in advice.findings if f.rule is not Rule.TCA_DOSE_UNKNOWN), drafting
    )
    return arrange([*warnings, summary_card(advice, drafting, offered_by(warnings))])
