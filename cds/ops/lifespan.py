"""Start-up and shut-down: the one outbound HTTP client and what holds connections."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from cds.fhir.client import FhirServerFallback
from cds.settings import Settings
from cds.storage.lifespan import open_storage


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Shared so connections to the EHR are reused across hook calls; redirects are off for
    # every request it makes (a redirect could lead off an allowed server).
    async with httpx.AsyncClient(
        follow_redirects=False, timeout=settings.cds_fhir_timeout_s
    ) as http:
        app.state.http = http
        if settings.fhir_allowlist:
            fallback = FhirServerFallback.from_settings(http, settings)
            app.state.fallback = fallback
            app.state.resolve = fallback.resolve_references
        try:
            async with open_storage(app):
                if getattr(app.state, "tracer_provider", None) is not None:
                    from cds.ops import tracing

                    tracing.instrument_clients(app)
                # Everything built at start-up lives as long as the process: keep it out of
                # the collector's full passes, which otherwise rescan it during hook calls.
                gc.freeze()
                yield
        finally:
            verifier = getattr(app.state, "verifier", None)
            if verifier is not None:
                await verifier.aclose()
            if getattr(app.state, "tracer_provider", None) is not None:
                from cds.ops import tracing

                tracing.shutdown(app)
