"""What guards the endpoints: CORS and the body size limit."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds.body_limit import BodyLimitMiddleware
from cds.settings import Settings


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the middleware; the last added runs first, so CORS answers preflights and adds
    its headers to error answers too."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.cds_max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
