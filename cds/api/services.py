"""The services this server offers (discovery, digest §1) and what each one prefetches."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Hook(StrEnum):
    PATIENT_VIEW = "patient-view"
    ORDER_SELECT = "order-select"
    ORDER_SIGN = "order-sign"


# US Core style searches. The guideline needs the Conditions and the medication orders;
# the Patient is asked for so the EHR can confirm whose chart it is.
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}",
}
REQUIRED_PREFETCH = frozenset({"conditions", "medications"})


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: Hook
    title: str
    description: str

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook.value,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": PREFETCH,
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
        ),
        Service(
            "phantom-limb-pain-order-select",
            Hook.ORDER_SELECT,
            "Phantom limb pain: order check at selection",
            "Checks the selected medication or service orders of a patient with phantom limb "
            "pain against the guideline's precautions, with one-click alternatives.",
        ),
        Service(
            "phantom-limb-pain-order-sign",
            Hook.ORDER_SIGN,
            "Phantom limb pain: order check at signing",
            "Checks every draft order of a patient with phantom limb pain against the "
            "guideline's precautions before signing, with one-click alternatives.",
        ),
    )
}
