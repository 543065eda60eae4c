"""Endpoints for the platform rather than the EHR: liveness, readiness and metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from cds.api.dependencies import RuntimeDep
from cds.api.errors import operation_outcome
from cds.api.responses import JsonResponse
from cds.ops.metrics import registry
from cds.ops.readiness import checks
from cds.security.metrics_access import require_metrics_access

log = logging.getLogger("cds.ops.operations")

router = APIRouter()


@router.get("/healthz")
async def healthz() -> JsonResponse:
    # Liveness only: a database outage must not get healthy replicas restarted.
    return JsonResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JsonResponse:
    """200 with each dependency's state, or 503 with an OperationOutcome naming each one
    (an error for each that fails, information for the others)."""
    found = await checks(runtime)
    failing = [c for c in found if not c.ok]
    if not failing:
        return JsonResponse({"status": "ok", "checks": {c.name: c.to_json() for c in found}})
    log.warning("not ready: %s", "; ".join(f"{c.name}: {c.detail}" for c in failing))
    body = operation_outcome(("transient", f"{c.name}: {c.detail}", ()) for c in failing)
    body["issue"] += [
        {"severity": "information", "code": "informational", "diagnostics": f"{c.name}: {c.detail}"}
        for c in found
        if c.ok
    ]
    return JsonResponse(body, status_code=503)


@router.get("/metrics", dependencies=[Depends(require_metrics_access)])
async def metrics() -> Response:
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
