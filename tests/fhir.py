"""Builders for the FHIR R4 JSON and CDS Hooks requests the tests send."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from fhir_mappings.terminology import ATC, ICD10, ICD10CM, RXNORM, SNOMED

_ids = itertools.count(1)
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PATIENT_ID = "pat-1"

__all__ = ["ATC", "ICD10", "ICD10CM", "RXNORM", "SNOMED"]


def next_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def codeable_concept(code: str | None, system: str, text: str | None) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code}]
    if text is not None:
        concept["text"] = text
    return concept


def condition(
    code: str | None = None,
    system: str = ICD10CM,
    *,
    text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    concept = codeable_concept(code, system, text)
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": id or next_id("cond"),
        "code": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if clinical is not None:
        resource["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": clinical}]}
    if verification is not None:
        resource["verificationStatus"] = {
            "coding": [{"system": VERIFICATION, "code": verification}]
        }
    return resource


def plp() -> dict[str, Any]:
    return condition("G54.6", id="plp")


def dosage(
    value: float, unit: str, *, frequency: int = 1, period: float = 1, period_unit: str = "d"
) -> dict[str, Any]:
    return {
        "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}},
        "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit, "code": unit}}],
    }


def med(
    code: str | None = None,
    system: str = RXNORM,
    *,
    text: str | None = None,
    status: str = "active",
    intent: str = "order",
    id: str | None = None,
    authored: str | None = None,
    dosages: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    concept = codeable_concept(code, system, text)
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": id or next_id("med"),
        "status": status,
        "intent": intent,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if concept:
        resource["medicationCodeableConcept"] = concept
    if authored:
        resource["authoredOn"] = authored
    if dosages is not None:
        resource["dosageInstruction"] = dosages
    resource.update(extra)
    return resource


def bundle(*resources: dict[str, Any], type: str = "searchset") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": type,
        "entry": [{"resource": r} for r in resources],
    }


def first_page(*resources: dict[str, Any]) -> dict[str, Any]:
    """The first page of a longer search (a `next` link), as a client that pages its
    prefetch sends it."""
    page = bundle(*resources)
    page["link"] = [{"relation": "next", "url": "http://ehr.example.org/fhir/search?page=2"}]
    return page


def hook_request(
    hook: str = "patient-view",
    *,
    conditions: Any = None,
    medications: Any = None,
    prefetch: dict[str, Any] | None = None,
    **context: Any,
) -> dict[str, Any]:
    if prefetch is None:
        prefetch = {
            "patient": {"resourceType": "Patient", "id": PATIENT_ID},
            "conditions": conditions if conditions is not None else bundle(),
            "medications": medications if medications is not None else bundle(),
        }
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/p1", "patientId": PATIENT_ID, **context},
        "prefetch": prefetch,
    }


def fhir_authorization(token: str, scope: str = "patient/*.read") -> dict[str, Any]:
    """A request's `fhirAuthorization`: the access token the service sends the FHIR server."""
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": scope,
        "subject": "cds-service",
    }


SERVICE_IDS = {
    "patient-view": "phantom-limb-pain-patient-view",
    "order-select": "phantom-limb-pain-order-select",
    "order-sign": "phantom-limb-pain-order-sign",
}
