"""One hook call from end to end: patient data → facts → guideline → cards."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from cards.models import Card, CdsResponse
from cards.orders import order_cards
from cards.patient_view import patient_view_cards
from cds.api.errors import ServiceError, validation_failed
from cds.api.models import HookRequest, OrderSelectContext, OrderSignContext, PatientContext
from cds.api.services import ALLERGIES, PAIN_SCORES, Hook, Service
from cds.fhir.patient_data import Fallback, Resolver, gather
from facts.medications import MedicationFact
from facts.orders import SplintOrder
from facts.patient import PatientFacts
from fhir_mappings.facts import medication_facts, patient_facts
from fhir_mappings.orders import splint_order
from fhir_mappings.resources import ResourceSet, collect
from guideline.ladder import assess
from guideline.precautions import ON_CHART_OPEN, ON_ORDER, Orders, evaluate

Judged = TypeVar("Judged", MedicationFact, SplintOrder)

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
        raise validation_failed(error, "context") from None


async def answer(
    service: Service, request: HookRequest, fallback: Fallback, resolve: Resolver
) -> CdsResponse:
    context = parse_context(service, request)
    record, facts = await read_patient(service, request, fallback, resolve)
    if not facts.in_scope:
        return CdsResponse(cards=[])
    if not isinstance(context, OrderSignContext):
        return CdsResponse(cards=chart_cards(facts, context.patientId))
    drafts = collect([context.draftOrders.as_json()])
    orders = orders_to_judge(facts, record, drafts, context)
    findings = evaluate(facts, orders, ON_ORDER)
    at_signing = service.hook is Hook.ORDER_SIGN
    return CdsResponse(cards=order_cards(findings, facts, context.patientId, at_signing=at_signing))


async def read_patient(
    service: Service, request: HookRequest, fallback: Fallback, resolve: Resolver
) -> tuple[ResourceSet, PatientFacts]:
    """The patient's resources and facts: prefetch, else the FHIR server (`fallback`).
    Optional data that could not be had is said to be unavailable in the facts."""
    data = await gather(request, service.prefetch, fallback)
    record = collect(data.values.values())
    await resolve(request, record)
    facts = patient_facts(
        record,
        pain_scores_obtained=data.obtained(PAIN_SCORES.name),
        allergies_obtained=data.obtained(ALLERGIES.name),
    )
    return record, facts


def chart_cards(facts: PatientFacts, patient_id: str) -> list[Card]:
    current = tuple(m for m in facts.medications if m.current)
    findings = evaluate(facts, Orders(judged=current), ON_CHART_OPEN)
    return patient_view_cards(facts, assess(facts), findings, patient_id)


def orders_to_judge(
    facts: PatientFacts, record: ResourceSet, drafts: ResourceSet, context: PatientContext
) -> Orders:
    """order-select judges the selections, with the other drafts beside them; order-sign
    judges every draft. Active orders a draft revises or replaces are not counted twice."""
    draft_meds = medication_facts(drafts.medication_orders, record.medications | drafts.medications)
    splints = tuple(s for s in map(splint_order, drafts.other_orders) if s is not None)
    selected = set(context.selections) if isinstance(context, OrderSelectContext) else None
    judged = _pick(draft_meds, selected)
    others = tuple(m for m in draft_meds if m not in judged)
    replaced = {m.reference for m in draft_meds} | {m.replaces for m in draft_meds if m.replaces}
    active = tuple(m for m in facts.medications if m.current and m.reference not in replaced)
    return Orders(judged=judged, alongside=others + active, splints=_pick(splints, selected))


def _pick(orders: tuple[Judged, ...], selected: set[str] | None) -> tuple[Judged, ...]:
    if selected is None:
        return orders
    return tuple(o for o in orders if o.reference in selected)
