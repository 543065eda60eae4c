"""The ASGI application: `uvicorn cds.app:app`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from cds.api import feedback
from cds.api.errors import ServiceError, operation_outcome, validation_failed
from cds.api.responses import JsonResponse
from cds.api.routes import router
from cds.fhir.patient_data import no_resolution, prefetch_only
from cds.ops import operations
from cds.ops.lifespan import lifespan
from cds.security.middleware import install_security
from cds.settings import Settings, get_settings

log = logging.getLogger("cds")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Phantom limb pain CDS Hooks service",
        default_response_class=JsonResponse,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.fallback = prefetch_only
    app.state.resolve = no_resolution
    app.include_router(router)
    app.include_router(feedback.router)
    app.include_router(operations.router)
    _add_error_handlers(app)
    install_security(app, settings)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JsonResponse:
        return JsonResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JsonResponse:
        code = "not-found" if error.status_code == 404 else "processing"
        body = operation_outcome([(code, str(error.detail), ())])
        return JsonResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JsonResponse:
        failure = validation_failed(list(error.errors()))
        return JsonResponse(failure.body(), status_code=failure.status)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JsonResponse:
        log.exception("unexpected error")
        body = operation_outcome(
            [("exception", "internal error; the request was not processed", ())]
        )
        return JsonResponse(body, status_code=500)


app = create_app()
