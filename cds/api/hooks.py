"""One hook call from end to end: patient data → facts → guideline → cards."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from pydantic import ValidationError

from cards.actions import Drafting
from cards.catalog import catalog
from cards.models import CdsResponse
from cards.orders import order_cards
from cards.patient_view import patient_view_cards
from cds.api.errors import DataUnavailable, ServiceError, validation_failed
from cds.api.models import HookRequest, OrderSelectContext, OrderSignContext, PatientContext
from cds.api.services import ALLERGIES, CONDITIONS, PAIN_SCORES, Hook, Service
from cds.fhir.patient_data import Fallback, Resolver, gather, unsatisfied
from cds.settings import Settings
from facts.patient import PatientFacts
from fhir_mappings.facts import medication_facts, patient_facts
from fhir_mappings.medications import UnseenDrug, unseen_drugs
from fhir_mappings.orders import splint_order
from fhir_mappings.resources import ResourceSet, collect
from fhir_mappings.terminology import Terminology
from guideline import hooks as guideline
from guideline.findings import Hook as GuidelineHook

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
    service: Service,
    request: HookRequest,
    fallback: Fallback,
    resolve: Resolver,
    settings: Settings,
    terminology: Terminology | None = None,
    today: date | None = None,
) -> CdsResponse:
    context = parse_context(service, request)
    record, facts = await read_patient(service, request, fallback, resolve, terminology)
    if not facts.in_scope:
        return CdsResponse(cards=[])
    today = today or datetime.now(UTC).date()
    drafting = Drafting(
        catalog(),
        context.patientId,
        facts.reason_reference,
        record.resource,
        allergies_checked=facts.allergies_available,
    )
    if not isinstance(context, OrderSignContext):
        advice = guideline.chart_advice(
            facts, today=today, reassessment_days=settings.cds_reassessment_interval_days
        )
        return CdsResponse(cards=patient_view_cards(advice, drafting) if advice else [])
    drafts = await read_drafts(context, request, record, resolve)
    drafting = replace(drafting, drafts=drafts.resource)
    findings = guideline.order_findings(
        facts,
        medication_facts(drafts.medication_orders, drafts.medications, terminology),
        tuple(
            s for s in (splint_order(o, terminology) for o in drafts.other_orders) if s is not None
        ),
        selected=frozenset(context.selections) if isinstance(context, OrderSelectContext) else None,
        hook=GuidelineHook(service.hook.value),
        today=today,
    )
    return CdsResponse(cards=order_cards(findings, drafting))


async def read_patient(
    service: Service,
    request: HookRequest,
    fallback: Fallback,
    resolve: Resolver,
    terminology: Terminology | None = None,
) -> tuple[ResourceSet, PatientFacts]:
    """The patient's resources and facts: prefetch, else the FHIR server (`fallback`).
    Optional data that could not be had is said to be unavailable in the facts."""
    try:
        data = await gather(request, service.prefetch, fallback)
    except DataUnavailable:
        if sent_without_phantom_limb_pain(request, terminology):
            return ResourceSet(), OUT_OF_SCOPE
        raise
    record = collect(data.values.values())
    why = await resolve(request, record)
    facts = patient_facts(
        record,
        terminology,
        pain_scores_obtained=data.obtained(PAIN_SCORES.name),
        allergies_obtained=data.obtained(ALLERGIES.name),
    )
    if facts.in_scope:
        # Out of scope, the orders do not matter: the answer is no cards whatever they are.
        unseen = unseen_drugs(record.orders_by_reference(), record.medications)
        require_seen(unseen, why, "prefetch.medications")
    return record, facts


# No phantom limb pain on the chart: the guideline does not apply, whatever else it holds.
OUT_OF_SCOPE = PatientFacts(phantom_limb_pain=(), heart=(), risk_factors=(), medications=())


def sent_without_phantom_limb_pain(request: HookRequest, terminology: Terminology | None) -> bool:
    """The Conditions came whole in the prefetch and name no phantom limb pain. Other data
    that could not be had is then no reason for a 412 (or a card saying the checks were not
    done): the answer is no cards whatever it holds."""
    if request.prefetch is None or unsatisfied(request, (CONDITIONS,)):
        return False
    conditions = request.prefetch[CONDITIONS.name]
    return not patient_facts(collect([conditions]), terminology).in_scope


async def read_drafts(
    context: OrderSignContext, request: HookRequest, record: ResourceSet, resolve: Resolver
) -> ResourceSet:
    """The draft orders, with the Medications they reference: contained, in the drafts or
    the prefetch, or fetched from the FHIR server."""
    drafts = collect([context.draftOrders.as_json()])
    drafts.medications = record.medications | drafts.medications
    why = await resolve(request, drafts)
    require_seen(
        unseen_drugs(drafts.orders_by_reference(), drafts.medications, drafts=True),
        why,
        "context.draftOrders",
    )
    return drafts


def require_seen(unseen: tuple[UnseenDrug, ...], why: str | None, where: str) -> None:
    """412 naming each order whose drug could not be had (digest §3: data the service needs
    and cannot get). Advice without them could miss a TCA or an opioid: a false-safe."""
    if not unseen:
        return
    named = "; ".join(
        f"{u.order} names its drug only as {u.medication}, "
        + (
            "a contained Medication the order does not hold"
            if u.medication.startswith("#")
            else "a Medication not in the data sent" + (f" and not fetched ({why})" if why else "")
        )
        for u in unseen
    )
    raise ServiceError(
        412,
        "not-found",
        f"The guideline's checks cannot be applied to an order whose drug is unknown: {named}.",
        [where],
    )
