"""OpenTelemetry tracing: optional (`pip install -e '.[otel]'`), on with CDS_OTEL_ENABLED=true.

Each HTTP request, so each hook call, is a server span that continues the trace of the EHR's
W3C `traceparent` header. Beneath it: a client span for every request to a FHIR server (and
every JWK Set fetch) through the service's httpx clients, and a span for every database
statement. Spans carry no patient data: URLs lose their query (FHIR searches name the
patient there), and statements are recorded without their parameters.

This module imports OpenTelemetry at the top; nothing imports it unless tracing is on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor, RequestInfo
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from cds.runtime import Runtime

# Probes and scrapes are not hook calls; tracing them would bury the traces that matter.
UNTRACED_PATHS = "healthz,readyz,metrics"
_URL_ATTRIBUTES = ("http.url", "url.full")


def otlp_provider() -> TracerProvider:
    """Spans batched to an OTLP/HTTP collector, configured by the standard OTEL_* variables
    (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, …)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "plp-cds"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def install(app: FastAPI, provider: TracerProvider) -> None:
    """Trace every request of `app`; call before the app starts."""
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=UNTRACED_PATHS)
    app.state.tracer_provider = provider


def instrument_clients(app: FastAPI, runtime: Runtime) -> None:
    """At start-up, once the outbound HTTP clients and the database exist."""
    provider: TracerProvider | None = getattr(app.state, "tracer_provider", None)
    if provider is None:
        return
    for client in (runtime.fhir_client(), runtime.jwks_client()):
        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=provider, request_hook=_drop_query
        )
    tracer = provider.get_tracer(__name__)
    if runtime.database is not None:
        trace_statements(runtime.database.engine.sync_engine, tracer)
    if runtime.recorder is not None:
        runtime.recorder.trace_with(CardWriteTracer(tracer))


class CardWriteTracer:
    """Card records are written in batches by the card writer's thread, after the hook calls
    have answered: each write is a span of its own, linked to the calls whose cards it
    writes, with the write's statements beneath it."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def capture(self) -> object | None:
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    def instrument(self, engine: AsyncEngine) -> None:
        trace_statements(engine.sync_engine, self.tracer)

    @contextmanager
    def write(self, links: Sequence[object], cards: int) -> Iterator[object]:
        with self.tracer.start_as_current_span(
            "record cards",
            links=[Link(c) for c in links if isinstance(c, SpanContext)],
            attributes={"cds.cards": cards},
        ) as span:
            yield span


def shutdown(app: FastAPI) -> None:
    """Send the spans still batched before the process ends."""
    provider: TracerProvider | None = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()


async def _drop_query(span: Span, request: RequestInfo) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        if key in attributes:
            span.set_attribute(key, _without_query(str(attributes[key])))


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def trace_statements(engine: Engine, tracer: trace.Tracer) -> None:
    """A client span per statement, under whatever span is current when it runs."""
    dialect = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _start(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            f"db {operation}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": dialect, "db.statement": statement},
        )
        context._plp_cds_span = span

    @event.listens_for(engine, "after_cursor_execute")
    def _end(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        span: Span | None = getattr(context, "_plp_cds_span", None)
        if span is not None:
            span.end()

    @event.listens_for(engine, "handle_error")
    def _failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span: Span | None = getattr(context, "_plp_cds_span", None)
        if span is not None:
            span.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            span.end()
