"""HTTP routes: discovery and the hook endpoints."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError

from cds.api.dependencies import PatientDataDep, RecorderDep, SettingsDep, TerminologyDep
from cds.api.errors import ServiceError, validation_failed
from cds.api.hooks import answer
from cds.api.limits import check_entry_counts
from cds.api.models import HookRequest
from cds.api.responses import JsonResponse
from cds.api.services import SERVICES, Service
from cds.ops.access_log import hook_call
from cds.ops.logging import hook_instance
from cds.ops.metrics import CARDS, HOOK_LATENCY
from cds.security.auth import caller_issuer
from cds.storage.recorder import rule_of

router = APIRouter()

_DISCOVERY = {"services": [s.discovery() for s in SERVICES.values()]}


@router.get("/cds-services")
async def discovery() -> JsonResponse:
    return JsonResponse(_DISCOVERY)


@router.post("/cds-services/{service_id}")
async def call_service(
    service_id: str,
    request: Request,
    settings: SettingsDep,
    patient_data: PatientDataDep,
    recorder: RecorderDep,
    terminology: TerminologyDep,
) -> JsonResponse:
    service = find_service(service_id)
    call = hook_call(request.scope)
    call.service = service.id
    hook_request = parse_hook_request(await request.body())
    call.hook_instance = hook_request.hookInstance
    check_entry_counts(hook_request, settings.cds_max_bundle_entries)
    hook_instance.set(hook_request.hookInstance)
    with HOOK_LATENCY.labels(service=service.id).time():
        response = await answer(
            service,
            hook_request,
            patient_data.fallback,
            patient_data.resolve,
            settings,
            terminology,
        )
    cards = response.cards
    call.cards = len(cards)
    for card in cards:
        CARDS.labels(rule_of(card), card.indicator.value).inc()
    if recorder is not None:
        recorder.submit(service.id, cards, caller_issuer(request))
    return JsonResponse(response.to_json())


def find_service(service_id: str) -> Service:
    service = SERVICES.get(service_id)
    if service is None:
        raise ServiceError(404, "not-found", f"no CDS service with id '{service_id}'")
    return service


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ServiceError(400, "structure", f"request body is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise ServiceError(400, "structure", "request body must be a JSON object")
    return parsed


def parse_hook_request(body: bytes) -> HookRequest:
    try:
        return HookRequest.model_validate(parse_json_object(body))
    except ValidationError as error:
        raise validation_failed(error) from None
