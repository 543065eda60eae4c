"""OpenTelemetry tracing, recorded with the SDK's in-memory exporter.

Needs the optional extra (`pip install -e '.[otel]'`; `.ci/run` installs it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.sdk", reason="the otel extra is not installed: pip install -e '.[otel]'"
)

import respx
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind

from cds.app import create_app
from cds.ops import tracing
from cds.settings import Settings
from tests.conftest import load_example
from tests.feedback_requests import drain_card_records

FHIR = "https://fhir.example.org/r4"
HOOK = "/cds-services/phantom-limb-pain-patient-view"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
EHR_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{EHR_SPAN_ID}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(settings: Settings, exporter: InMemorySpanExporter) -> Iterator[TestClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings.model_copy(update={"cds_fhir_allowlist": f"{FHIR}/"}))
    tracing.install(app, provider)
    with TestClient(app) as client:
        yield client


def without_prefetch() -> dict[str, Any]:
    request = copy.deepcopy(load_example("patient-view.json"))
    prefetch = request.pop("prefetch")
    request["fhirServer"] = FHIR
    request["fhirAuthorization"] = {"access_token": "t0k3n", "token_type": "Bearer"}
    request["_bundles"] = prefetch
    return request


def server_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    [span] = [s for s in spans if s.kind == SpanKind.SERVER]
    return span


def descends_from(
    span: ReadableSpan, ancestor: ReadableSpan, spans: tuple[ReadableSpan, ...]
) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    return False


def test_a_hook_call_continues_the_trace_of_the_ehr(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    response = traced.post(
        HOOK, json=load_example("patient-view.json"), headers={"traceparent": TRACEPARENT}
    )
    assert response.status_code == 200
    span = server_span(exporter.get_finished_spans())
    assert span.context.trace_id == int(TRACE_ID, 16)
    assert span.parent is not None and span.parent.span_id == int(EHR_SPAN_ID, 16)
    assert span.parent.is_remote
    assert span.name == "POST /cds-services/{service_id}"
    assert span.attributes is not None and span.attributes["http.status_code"] == 200


def test_without_traceparent_a_hook_call_starts_a_trace(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    assert traced.post(HOOK, json=load_example("patient-view.json")).status_code == 200
    assert server_span(exporter.get_finished_spans()).parent is None


def test_fhir_fetches_are_child_spans_without_the_patient_in_them(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    request = without_prefetch()
    bundles = request.pop("_bundles")
    with respx.mock(assert_all_mocked=True) as ehr:
        ehr.get(f"{FHIR}/Condition").respond(json=bundles["conditions"])
        ehr.get(f"{FHIR}/MedicationRequest").respond(json=bundles["medications"])
        ehr.get(f"{FHIR}/AllergyIntolerance").respond(json=bundles["allergies"])
        ehr.get(f"{FHIR}/Observation").respond(json=bundles["painScores"])
        response = traced.post(HOOK, json=request, headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200
    assert len(response.json()["cards"]) == 1
    spans = exporter.get_finished_spans()
    hook = server_span(spans)
    fetches = [s for s in spans if s.kind == SpanKind.CLIENT and s.name == "GET"]
    assert len(fetches) == 4
    urls = sorted(str((s.attributes or {}).get("http.url")) for s in fetches)
    assert urls == [
        f"{FHIR}/AllergyIntolerance",
        f"{FHIR}/Condition",
        f"{FHIR}/MedicationRequest",
        f"{FHIR}/Observation",
    ]
    for fetch in fetches:
        assert fetch.context.trace_id == int(TRACE_ID, 16)
        assert descends_from(fetch, hook, spans)
    # The searches name the patient in their query; no span may carry it.
    everything = json.dumps([dict(s.attributes or {}) for s in spans])
    assert "pat-plp-1" not in everything


def test_recording_the_cards_is_traced_and_linked_to_the_hook_call(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    response = traced.post(
        HOOK, json=load_example("patient-view.json"), headers={"traceparent": TRACEPARENT}
    )
    assert response.status_code == 200
    drain_card_records(traced)
    spans = exporter.get_finished_spans()
    hook = server_span(spans)
    # The writer writes many calls' cards at once, after they have answered: its span is
    # linked to each call's span rather than a child of one.
    [write] = [s for s in spans if s.name == "record cards"]
    assert [link.context.span_id for link in write.links] == [hook.context.span_id]
    assert [link.context.trace_id for link in write.links] == [int(TRACE_ID, 16)]
    inserts = [s for s in spans if s.name == "db INSERT"]
    assert inserts
    for insert in inserts:
        assert insert.kind == SpanKind.CLIENT
        assert descends_from(insert, write, spans)
        attributes = insert.attributes or {}
        assert attributes["db.system"] == "sqlite"
        assert str(attributes["db.statement"]).startswith("INSERT INTO emitted_cards")


def test_probes_are_not_traced(traced: TestClient, exporter: InMemorySpanExporter) -> None:
    assert traced.get("/healthz").status_code == 200
    assert exporter.get_finished_spans() == ()


def test_tracing_is_off_by_default(settings: Settings) -> None:
    assert Settings().cds_otel_enabled is False
    app = create_app(settings)
    assert getattr(app.state, "tracer_provider", None) is None


def test_the_setting_turns_on_export_over_otlp(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cds_otel_enabled": True}))
    provider = app.state.tracer_provider
    try:
        assert isinstance(provider, TracerProvider)
        assert provider.resource.attributes["service.name"] == "plp-cds"
    finally:
        provider.shutdown()


def test_with_tracing_off_a_global_tracer_provider_gets_no_spans(
    settings: Settings, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tracing is off unless CDS_OTEL_ENABLED says otherwise, even when the process has a
    global provider (an OpenTelemetry agent's): FastAPI's own tracing is turned off too."""
    from opentelemetry import trace

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    with TestClient(create_app(settings)) as client:
        assert client.post(HOOK, json=load_example("patient-view.json")).status_code == 200
        assert client.get("/cds-services").status_code == 200
    assert exporter.get_finished_spans() == ()
