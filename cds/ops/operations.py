"""Endpoints for the platform rather than the EHR: liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response

from cds.api.dependencies import DatabaseDep
from cds.api.errors import ServiceError
from cds.api.responses import JsonResponse
from cds.security.metrics_access import require_metrics_access
from cds.storage.database import StorageUnavailable

log = logging.getLogger("cds.ops.operations")

router = APIRouter()

READY_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> JsonResponse:
    # Liveness only: a database outage must not get healthy replicas restarted.
    return JsonResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(database: DatabaseDep) -> JsonResponse:
    try:
        if database is None:
            raise StorageUnavailable("storage not opened")
        await asyncio.wait_for(database.ping(), READY_TIMEOUT_S)
    except (StorageUnavailable, TimeoutError) as error:
        log.warning("not ready: database unreachable", extra={"error": str(error)})
        raise ServiceError(503, "transient", "database unreachable") from None
    return JsonResponse({"status": "ok"})


@router.get("/metrics", dependencies=[Depends(require_metrics_access)])
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
