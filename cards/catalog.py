"""What each suggested therapy becomes when a clinician accepts it: a draft FHIR R4 resource.

Medications are RxNorm clinical drugs verified in terminology.md, at the lowest strength
listed there: the guideline gives no doses, so the prescriber sets dose and directions.
Non-drug therapies are ServiceRequests coded with the nearest verified SNOMED CT concept and
named exactly in `code.text` (terminology.md §4's interim pattern where no concept of its own
was verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_mappings.terminology import CLINICAL_DRUGS, RXNORM, SNOMED
from guideline.therapies import Therapy


@dataclass(frozen=True, slots=True)
class DrugChoice:
    label: str
    rxcui: str | None = None
    # The lidocaine patch's RxNorm display is unverified (terminology.md): code and text only.
    emit_display: bool = True
    directions: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceChoice:
    label: str
    snomed: str
    snomed_display: str
    text: str


DRUGS: dict[Therapy, DrugChoice] = {
    Therapy.GABAPENTIN: DrugChoice("Gabapentin", "310430"),
    Therapy.PREGABALIN: DrugChoice("Pregabalin", "483448"),
    Therapy.LIDOCAINE_PATCH: DrugChoice(
        "Lidocaine 5% patch to the residual limb",
        "1745091",
        emit_display=False,
        directions="Apply to the painful area of the residual limb.",
    ),
    Therapy.NORTRIPTYLINE: DrugChoice("Nortriptyline", "198045"),
    Therapy.DESIPRAMINE: DrugChoice("Desipramine", "1099288"),
    Therapy.DULOXETINE: DrugChoice("Duloxetine", "596926"),
    Therapy.VENLAFAXINE: DrugChoice("Venlafaxine", "313583"),
    Therapy.TOPICAL_COMPOUND: DrugChoice(
        "Topical amitriptyline/ketamine compound",
        directions="Apply to the residual limb up to 3 times daily.",
    ),
}

SERVICES: dict[Therapy, ServiceChoice] = {
    Therapy.MIRROR_THERAPY: ServiceChoice(
        "Mirror therapy",
        "308447003",
        "Referral to physiotherapist (procedure)",
        "Mirror therapy (physiotherapy referral)",
    ),
    Therapy.EXERCISE_THERAPY: ServiceChoice(
        "Exercise therapy",
        "229065009",
        "Exercise therapy (regime/therapy)",
        "Exercise therapy, at least 30 minutes twice weekly",
    ),
    Therapy.KETAMINE: ServiceChoice(
        "Pain specialist: consider ketamine",
        "306265007",
        "Referral to pain management specialist (procedure)",
        "Pain specialist referral to consider ketamine (NMDA receptor antagonist)",
    ),
    Therapy.SPINAL_CORD_STIMULATION: ServiceChoice(
        "Refer for spinal cord stimulation",
        "306265007",
        "Referral to pain management specialist (procedure)",
        "Referral for spinal cord stimulation; consider transcranial magnetic stimulation "
        "or scrambler therapy",
    ),
    Therapy.MULTIDISCIPLINARY: ServiceChoice(
        "Multidisciplinary pain programme",
        "408957008",
        "Chronic pain control management (procedure)",
        "Multidisciplinary pain management including psychological interventions "
        "(e.g. cognitive behavioural therapy)",
    ),
}

# The compound is described by its ingredients. Amitriptyline's RxNorm ingredient code is
# verified; ketamine's (6130) is not, so ketamine is named in text only.
_COMPOUND_MEDICATION: dict[str, Any] = {
    "resourceType": "Medication",
    "id": "compound",
    "code": {"text": "Amitriptyline 1–2% with ketamine 0.5–5% topical cream (compounded)"},
    "form": {"text": "Topical cream"},
    "ingredient": [
        {
            "itemCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "704", "display": "amitriptyline"}],
                "text": "amitriptyline",
            }
        },
        {"itemCodeableConcept": {"text": "ketamine"}},
    ],
}


def label(therapy: Therapy) -> str:
    choice = DRUGS.get(therapy) or SERVICES[therapy]
    return choice.label


def resource(therapy: Therapy, patient_id: str, reason: str | None) -> dict[str, Any]:
    """The draft resource for a therapy, ready for a `create` action."""
    if therapy in DRUGS:
        return medication_request(DRUGS[therapy], patient_id, reason)
    return service_request(SERVICES[therapy], patient_id, reason)


def medication_request(choice: DrugChoice, patient_id: str, reason: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if choice.rxcui is None:
        request["contained"] = [_COMPOUND_MEDICATION]
        request["medicationReference"] = {"reference": "#compound"}
    else:
        drug = CLINICAL_DRUGS[choice.rxcui]
        coding = {"system": RXNORM, "code": drug.rxcui}
        if choice.emit_display:
            coding["display"] = drug.display
        request["medicationCodeableConcept"] = {"coding": [coding], "text": drug.display}
    if reason:
        request["reasonReference"] = [{"reference": reason}]
    if choice.directions:
        request["dosageInstruction"] = [{"text": choice.directions}]
    return request


def service_request(choice: ServiceChoice, patient_id: str, reason: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [{"system": SNOMED, "code": choice.snomed, "display": choice.snomed_display}],
            "text": choice.text,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if reason:
        request["reasonReference"] = [{"reference": reason}]
    return request
