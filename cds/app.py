"""The ASGI application.

`uvicorn --factory cds.app:create_app` builds it from the environment; `plp-cds serve`
does the same. `uvicorn cds.app:app` keeps working for existing deployments: the module
attribute is built on first access, not on import, so importing this module starts
nothing and reads no environment.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from cards.catalog import catalog
from cds.api import feedback
from cds.api.errors import ServiceError, operation_outcome, validation_failed
from cds.api.responses import JsonResponse
from cds.api.routes import HOOK_PATH, call_service, router
from cds.ops import operations
from cds.ops.access_log import AccessLogMiddleware
from cds.ops.lifespan import lifespan
from cds.runtime import Runtime
from cds.security.middleware import build_verifier, install_security
from cds.security.trusted_issuers import StartupError
from cds.settings import Settings
from fhir_mappings.terminology import Terminology, TerminologyError, load_terminology

log = logging.getLogger("cds")

NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """The app for `settings` (default: the environment). `freeze_gc` is for a server
    process only: start-up objects are moved out of the collector's reach once started."""
    settings = settings or Settings()
    # The suggestion catalogue is read and every template validated once, here: a faulty
    # one stops start-up rather than a hook call.
    catalog()
    runtime = Runtime(
        settings=settings,
        verifier=build_verifier(settings),
        terminology=_terminology(settings),
    )
    app = FastAPI(
        # FastAPI's own OpenTelemetry checks the global providers on every request (3 µs);
        # with the service's tracing off (the default) there is nothing for it to find.
        telemetry=None if settings.cds_otel_enabled else NO_NATIVE_TELEMETRY,
        title="Phantom limb pain CDS Hooks service",
        default_response_class=JsonResponse,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan(runtime, freeze_gc=freeze_gc),
    )
    app.state.runtime = runtime
    # The hook endpoint first, as a route of the app itself: the routers included below are
    # matched through FastAPI's router machinery, which cost each hook call 15 µs more.
    app.add_route(HOOK_PATH, call_service, methods=["POST"])
    app.include_router(router)
    app.include_router(feedback.router)
    app.include_router(operations.router)
    _add_error_handlers(app)
    install_security(app, settings, runtime.verifier, runtime.jwks_client)
    # Added last, so it runs first and logs every answer, the middleware's refusals too.
    app.add_middleware(AccessLogMiddleware)
    if settings.cds_otel_enabled:
        _enable_tracing(app)
    return app


def _terminology(settings: Settings) -> Terminology:
    """The tables, read and checked now: a bad row stops start-up with one line."""
    try:
        return load_terminology(settings.cds_site_terminology_file)
    except TerminologyError as error:
        setting = " (CDS_SITE_TERMINOLOGY_FILE)" if settings.cds_site_terminology_file else ""
        raise StartupError(f"terminology table{setting}: {error}") from None


def create_served_app() -> FastAPI:
    """The factory `plp-cds serve` runs in each server process."""
    return create_app(freeze_gc=True)


def _enable_tracing(app: FastAPI) -> None:
    try:
        from cds.ops import tracing
    except ImportError:
        raise StartupError(
            "CDS_OTEL_ENABLED=true but OpenTelemetry is not installed: install the extra "
            "(pip install 'plp-cds[otel]', or -e '.[otel]' in the repository), or unset "
            "CDS_OTEL_ENABLED"
        ) from None
    tracing.install(app, tracing.otlp_provider())


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JsonResponse:
        return JsonResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JsonResponse:
        code = "not-found" if error.status_code == 404 else "processing"
        body = operation_outcome([(code, str(error.detail), ())])
        return JsonResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JsonResponse:
        failure = validation_failed(list(error.errors()))
        return JsonResponse(failure.body(), status_code=failure.status)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(_: Request, error: ClientDisconnect) -> Response:
        # Routine (a closed tab, a timeout, the server's read deadline), and a client can
        # cause it at will: one short line, not an error with a traceback per connection.
        log.info("client disconnected before its request was read")
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JsonResponse:
        log.exception("unexpected error")
        body = operation_outcome(
            [("exception", "internal error; the request was not processed", ())]
        )
        return JsonResponse(body, status_code=500)


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """`cds.app.app`, built from the environment on first access (PEP 562). Only a server
    imports it (`uvicorn cds.app:app`), so it is built as `plp-cds serve` builds its own:
    without the collector's tuning a typical hook call cost 0.27 ms more CPU (1.25 against
    0.98 ms in-process), most of it in full collections of the start-up heap."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = create_served_app()
    return _app
