"""The services this server offers (discovery, digest §1) and what each one prefetches."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir_mappings.measures import pain_score_codes


class Hook(StrEnum):
    PATIENT_VIEW = "patient-view"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


class Need(StrEnum):
    """What the service does when the EHR did not prefetch a key (digest §3)."""

    # Read from the EHR's FHIR server; when that cannot be done, a 412 naming the key.
    REQUIRED = "required"
    # Read from the EHR's FHIR server when it can be used; otherwise the hook still answers,
    # and the facts say the data was not available.
    OPTIONAL = "optional"
    # Asked for the EHR's benefit (whose chart this is) and never fetched.
    NOT_FETCHED = "not-fetched"


@dataclass(frozen=True, slots=True)
class PrefetchKey:
    name: str
    template: str
    need: Need
    # For a search sorted newest first: read only until this many matches are in hand
    # (a page, or the few pages a small page size needs), never the whole history.
    newest: int | None = None


# The pain scores shown on patient-view (GUIDELINE §3 "Response") are the most recent ones:
# a bounded search, newest first, whose `_count` is this number.
PAIN_SCORES_READ = 20

# US Core style searches. The guideline needs the Conditions and the medication orders; the
# Patient is asked for so the EHR can confirm whose chart it is. Allergies and
# intolerances (GUIDELINE §3) and pain scores are optional: a chart without them still
# gets advice.
PATIENT = PrefetchKey("patient", "Patient/{{context.patientId}}", Need.NOT_FETCHED)
CONDITIONS = PrefetchKey("conditions", "Condition?patient={{context.patientId}}", Need.REQUIRED)
MEDICATIONS = PrefetchKey(
    "medications", "MedicationRequest?patient={{context.patientId}}", Need.REQUIRED
)
ALLERGIES = PrefetchKey(
    "allergies", "AllergyIntolerance?patient={{context.patientId}}", Need.OPTIONAL
)
# By code, not by category: EHRs file pain scores under `survey` or `vital-signs`. The codes
# are the ones the mapping reads (fhir_mappings/data/pain_scores.csv), so the two cannot differ.
PAIN_SCORES = PrefetchKey(
    "painScores",
    "Observation?patient={{context.patientId}}&code="
    + ",".join(f"{score.system}|{score.code}" for score in pain_score_codes().values())
    + f"&_sort=-date&_count={PAIN_SCORES_READ}",
    Need.OPTIONAL,
    newest=PAIN_SCORES_READ,
)

# Only patient-view shows pain scores; every hook may suggest an agent, so every hook
# reads the allergies that rule agents out.
PATIENT_VIEW_PREFETCH = (PATIENT, CONDITIONS, MEDICATIONS, ALLERGIES, PAIN_SCORES)
ORDER_PREFETCH = (PATIENT, CONDITIONS, MEDICATIONS, ALLERGIES)


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: Hook
    title: str
    description: str
    prefetch: tuple[PrefetchKey, ...]

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook.value,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {key.name: key.template for key in self.prefetch},
        }


SERVICES: dict[str, Service] = {
    s.id: s
    for s in (
        Service(
            "phantom-limb-pain-patient-view",
            Hook.PATIENT_VIEW,
            "Phantom limb pain: treatment step",
            "For a patient with phantom limb pain, shows where the patient stands on the "
            "guideline's treatment ladder, the next therapy to consider as one-click draft "
            "orders, and precautions already true of the active medication (TCA with "
            "cardiac disease, TCA above 100 mg/day).",
            PATIENT_VIEW_PREFETCH,
        ),
        Service(
            "phantom-limb-pain-order-select",
            Hook.ORDER_SELECT,
            "Phantom limb pain: order check at selection",
            "Checks the selected medication or service orders of a patient with phantom limb "
            "pain against the guideline's precautions, with one-click alternatives.",
            ORDER_PREFETCH,
        ),
        Service(
            "phantom-limb-pain-order-sign",
            Hook.ORDER_SIGN,
            "Phantom limb pain: order check at signing",
            "Checks every draft order of a patient with phantom limb pain against the "
            "guideline's precautions before signing, with one-click alternatives.",
            ORDER_PREFETCH,
        ),
    )
}
