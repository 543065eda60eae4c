"""One hook call from end to end: patient data → facts → guideline → cards."""

from __future__ import annotations

from pydantic import ValidationError

from cards.models import Card, CdsResponse
from cards.patient_view import patient_view_cards
from cds.errors import ServiceError
from cds.models import HookRequest, OrderSelectContext, OrderSignContext, PatientContext
from cds.patient_data import Fallback, gather
from cds.services import Hook, Service
from fhir_mappings.facts import PatientFacts, patient_facts
from fhir_mappings.resources import collect
from guideline.ladder import assess
from guideline.precautions import ON_CHART_OPEN, Orders, evaluate

CONTEXTS: dict[Hook, type[PatientContext]] = {
    Hook.PATIENT_VIEW: PatientContext,
    Hook.ORDER_SELECT: OrderSelectContext,
    Hook.ORDER_SIGN: OrderSignContext,
}


def parse_context(service: Service, request: HookRequest) -> PatientContext:
    if request.hook != service.hook:
        raise ServiceError(
            400,
            "invalid",
            f"service '{service.id}' answers the '{service.hook}' hook, not '{request.hook}'",
            ["hook"],
        )
    try:
        return CONTEXTS[service.hook].model_validate(request.context)
    except ValidationError as error:
        raise ServiceError(
            422,
            "invalid",
            "; ".join(f"context.{_path(e['loc'])}: {e['msg']}" for e in error.errors()),
            [f"context.{_path(e['loc'])}" for e in error.errors()],
        ) from None


def _path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location)


async def answer(service: Service, request: HookRequest, fallback: Fallback) -> CdsResponse:
    context = parse_context(service, request)
    values = await gather(request, fallback)
    facts = patient_facts(collect(values.values()))
    if not facts.in_scope:
        return CdsResponse(cards=[])
    return CdsResponse(cards=cards_for(service.hook, facts, context))


def cards_for(hook: Hook, facts: PatientFacts, context: PatientContext) -> list[Card]:
    if hook is Hook.PATIENT_VIEW:
        current = tuple(m for m in facts.medications if m.current)
        findings = evaluate(facts, Orders(judged=current), ON_CHART_OPEN)
        return patient_view_cards(facts, assess(facts), findings, context.patientId)
    return []
