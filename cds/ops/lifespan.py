"""Start-up and shut-down: the outbound HTTP clients and what holds connections."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from cds.fhir.client import FhirServerFallback
from cds.fhir.patient_data import PatientDataSource
from cds.runtime import Runtime
from cds.security.outbound import outbound_client
from cds.settings import PrefetchResolution
from cds.storage.lifespan import open_storage

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan(runtime: Runtime, *, freeze_gc: bool = False) -> Lifespan:
    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        # Shared so connections are reused across hook calls, one per purpose so that
        # nothing learnt from one server travels to another (cds.security.outbound).
        fhir_http = outbound_client(
            max_connections=settings.cds_fhir_max_connections,
            max_keepalive_connections=settings.cds_fhir_max_keepalive_connections,
            timeout_s=settings.cds_fhir_timeout_s,
            ca_file=settings.cds_outbound_ca_file,
        )
        jwks_http = outbound_client(
            max_connections=settings.cds_jwks_max_connections,
            max_keepalive_connections=settings.cds_jwks_max_connections,
            timeout_s=settings.cds_jwks_timeout_s,
            ca_file=settings.cds_outbound_ca_file,
        )
        async with fhir_http, jwks_http:
            runtime.fhir_http, runtime.jwks_http = fhir_http, jwks_http
            if settings.cds_prefetch_resolution is PrefetchResolution.FHIR_SERVER:
                fallback = FhirServerFallback.from_settings(fhir_http, settings)
                runtime.patient_data = PatientDataSource(fallback, fallback.resolve_references)
            try:
                async with open_storage(runtime):
                    _start_tracing(app, runtime)
                    if freeze_gc:
                        # Everything built at start-up lives as long as the server process:
                        # keep it out of the collector's full passes, which otherwise rescan
                        # it during hook calls. Only for `serve`: tests build many apps.
                        gc.freeze()
                        tune_collector()
                    yield
            finally:
                runtime.fhir_http = runtime.jwks_http = None
                if runtime.verifier is not None:
                    await runtime.verifier.aclose()
                _stop_tracing(app)

    return run


# Objects allocated, net of those freed, before the collector scans the youngest generation
# (Python's default: 700). A hook call holds its parsed request (a few thousand dicts and
# lists for a typical chart, tens of thousands for a large one) until it answers, so at 700
# every call set off collections that scanned its own live request (three a typical call,
# 45 a large one). The request is freed by reference counting, not by the collector; at this
# threshold a collection comes every few calls at most. Measured over HTTP: 0.1 ms less
# server CPU a typical call (1.75 -> 1.65 ms), 1.4 ms less a large one (12.4 -> 11.1 ms).
GC_YOUNG_THRESHOLD = 50_000


def tune_collector() -> None:
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


# Tracing is optional: its module (and OpenTelemetry) is imported only when it is on.
def _start_tracing(app: FastAPI, runtime: Runtime) -> None:
    if getattr(app.state, "tracer_provider", None) is not None:
        from cds.ops import tracing

        tracing.instrument_clients(app, runtime)


def _stop_tracing(app: FastAPI) -> None:
    if getattr(app.state, "tracer_provider", None) is not None:
        from cds.ops import tracing

        tracing.shutdown(app)
