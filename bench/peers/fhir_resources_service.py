"""The benchmark's `fhir.resources` peer: a FastAPI service that answers the same
patient-view call after validating every prefetched resource with the `fhir.resources` R4B
models, the usual way to get typed FHIR in a Python service.

Same decision as the HealthChain peer (one info card when a Condition coded ICD-10-CM G54.6
is on the chart), so the two measure their frameworks, not a guideline. Served as
`uvicorn bench.peers.fhir_resources_service:app`; imports nothing else from this repository.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel

SERVICE_ID = "phantom-limb-pain-patient-view"
PATH = f"/cds-services/{SERVICE_ID}"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PHANTOM_LIMB_PAIN = "G54.6"


class HookRequest(BaseModel):
    hook: str
    hookInstance: str
    context: dict[str, Any]
    fhirServer: str | None = None
    prefetch: dict[str, dict[str, Any] | None] | None = None


class Source(BaseModel):
    label: str


class Card(BaseModel):
    summary: str
    indicator: str
    source: Source


class CdsResponse(BaseModel):
    cards: list[Card]


app = FastAPI(title="bench peer: fhir.resources")


def _has_phantom_limb_pain(bundle: Bundle) -> bool:
    for entry in bundle.entry or []:
        for coding in getattr(getattr(entry.resource, "code", None), "coding", None) or []:
            if coding.system == ICD10CM and coding.code == PHANTOM_LIMB_PAIN:
                return True
    return False


@app.post(PATH, response_model_exclude_none=True)
async def patient_view(request: HookRequest) -> CdsResponse:
    resources = {
        key: get_fhir_model_class(value["resourceType"]).model_validate(value)
        for key, value in (request.prefetch or {}).items()
        if value is not None
    }
    conditions = resources.get("conditions")
    if not isinstance(conditions, Bundle) or not _has_phantom_limb_pain(conditions):
        return CdsResponse(cards=[])
    card = Card(
        summary="Phantom limb pain: see the treatment guideline",
        indicator="info",
        source=Source(label="bench peer"),
    )
    return CdsResponse(cards=[card])
