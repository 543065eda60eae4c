"""The benchmark's HealthChain peer: the same patient-view call answered the way HealthChain
0.16 documents it, a `CDSHooksService` hook on a `HealthChainAPI` app whose handler reads the
prefetch through HealthChain's FHIR adapter (`CdsFhirAdapter`, FHIR R4B models).

Its decision is deliberately the least a phantom limb pain service could make: one info card
when a Condition coded ICD-10-CM G54.6 is on the chart. What is measured is the framework and
its FHIR models, not a guideline. Served as `uvicorn bench.peers.healthchain_service:app`,
from an interpreter that has HealthChain (see bench/peers/__init__.py); imports nothing else
from this repository.
"""

from __future__ import annotations

from typing import Any

from healthchain.gateway import CDSHooksService, HealthChainAPI
from healthchain.io.adapters.cdsfhiradapter import CdsFhirAdapter
from healthchain.models import Card, CDSRequest, CDSResponse

SERVICE_ID = "phantom-limb-pain-patient-view"
PATH = f"/cds/cds-services/{SERVICE_ID}"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PHANTOM_LIMB_PAIN = "G54.6"

app = HealthChainAPI(title="bench peer: HealthChain")
cds = CDSHooksService()
adapter = CdsFhirAdapter(hook_name="patient-view")


def _has_phantom_limb_pain(bundle: Any) -> bool:
    for entry in getattr(bundle, "entry", None) or []:
        code = getattr(entry.resource, "code", None)
        for coding in getattr(code, "coding", None) or []:
            if coding.system == ICD10CM and coding.code == PHANTOM_LIMB_PAIN:
                return True
    return False


@cds.hook("patient-view", id=SERVICE_ID)
def patient_view(request: CDSRequest) -> CDSResponse:
    document = adapter.parse(request)
    conditions = document.fhir.prefetch_resources.get("conditions")
    if isinstance(conditions, dict):
        # The adapter keeps a resource it could not validate as a plain dict; a peer that
        # skipped validation would be measured doing less than its documented job.
        raise ValueError("HealthChain could not validate the conditions Bundle")
    if not _has_phantom_limb_pain(conditions):
        return CDSResponse(cards=[])
    card = Card(
        summary="Phantom limb pain: see the treatment guideline",
        indicator="info",
        source={"label": "bench peer"},
    )
    return CDSResponse(cards=[card])


app.register_service(cds)
