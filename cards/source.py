"""Where every card comes from, and the codes for card topics and override reasons."""

from __future__ import annotations

from functools import cache

from cards.models import Coding, OverrideReason, Source

TOPIC_SYSTEM = "urn:plp-cds:card-topic"
OVERRIDE_SYSTEM = "urn:plp-cds:override-reason"

GUIDELINE_LABEL = (
    "Phantom limb pain treatment guideline (Praxis Medical Insights 2025; "
    "Dr.Oracle Medical Advisory Board 2025)"
)

TOPICS: dict[str, str] = {
    "treatment-step": "Phantom limb pain: treatment step and next therapy",
    "tca-heart": "Tricyclic antidepressant with cardiac disease",
    "tca-dose": "Tricyclic antidepressant daily dose",
    "tca-cv-risk": "Tricyclic antidepressant with cardiovascular risk factors",
    "tca-snri-stacked": "Tricyclic antidepressant and SNRI together",
    "opioid": "Opioid use in phantom limb pain",
    "long-term-opioid": "Long-term opioid use in phantom limb pain",
    "tertiary-amine-tca": "Choice of tricyclic antidepressant",
    "splinting": "Splinting of the residual limb",
    "checks-not-done": "Guideline checks not done: data could not be read",
}


# Built once per topic and shared by every card of it (frozen models): a Source and its
# topic Coding are two validations a card, 3 µs of a typical patient-view's 3 cards.
@cache
def source(topic: str) -> Source:
    # No `url`: it is optional (CDS Hooks 2.0 §4), and the guideline summaries cited have no
    # address the service could vouch for. A placeholder such as "#" would render as a link
    # to nowhere; a client that draws a link anyway (the CDS Hooks sandbox links "#") does so
    # on its own account.
    return Source(
        label=GUIDELINE_LABEL,
        topic=Coding(system=TOPIC_SYSTEM, code=topic, display=TOPICS[topic]),
    )


OVERRIDE_REASONS: dict[str, str] = {
    "benefit-outweighs-risk": "Benefit outweighs risk for this patient",
    "alternative-not-suitable": "Alternative tried before, not tolerated or not suitable",
    "cardiology-reviewed": "Reviewed with cardiology; monitoring in place",
    "dose-intended": "Dose reviewed and intended",
    "short-term-exacerbation": "Short-term use for a severe exacerbation",
    "patient-preference": "Patient's informed preference",
    "not-residual-limb": "Order does not immobilise the residual limb",
    "cross-taper": "Planned cross-taper from one agent to the other",
    "opioid-plan-reviewed": "Opioid therapy reviewed; plan and monitoring in place",
    "chart-reviewed": "Chart reviewed by the prescriber instead",
}


_OVERRIDE_REASONS = {
    code: OverrideReason(system=OVERRIDE_SYSTEM, code=code, display=display)
    for code, display in OVERRIDE_REASONS.items()
}


def override_reasons(*codes: str) -> list[OverrideReason]:
    return [_OVERRIDE_REASONS[c] for c in codes]
