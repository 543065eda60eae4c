"""What guards the endpoints: CORS, the body size limit and client JWT authentication."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cds.api.body_limit import BodyLimitMiddleware
from cds.security.auth import AuthMiddleware, Verifier
from cds.security.jwks import JwksCache
from cds.security.replay import MemoryReplayStore, RedisReplayStore, ReplayStore
from cds.security.trusted_issuers import StartupError, load_trusted_issuers
from cds.settings import Settings

log = logging.getLogger(__name__)


def install_security(
    app: FastAPI,
    settings: Settings,
    verifier: Verifier | None,
    http: Callable[[], httpx.AsyncClient],
) -> None:
    """Add the middleware; the last added runs first, so CORS answers preflights and adds
    its headers to 401s, and authentication runs before any body is read. `http` gives the
    client that fetches JWK Sets once the app has started."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.cds_max_body_bytes)
    if verifier is not None:
        app.add_middleware(AuthMiddleware, verifier=verifier, http=http)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )


def build_verifier(settings: Settings) -> Verifier | None:
    issuers = load_trusted_issuers(settings.cds_trusted_issuers_file)
    if not issuers:
        if settings.cds_require_auth:
            raise StartupError(
                "CDS_REQUIRE_AUTH=true but no trusted issuers are configured: set "
                "CDS_TRUSTED_ISSUERS_FILE to a JSON file naming each EHR's issuer and JWK Set "
                "(see the README, Deploying). Refusing to start without authentication."
            )
        log.warning(
            "!!! NO CLIENT AUTHENTICATION: CDS_TRUSTED_ISSUERS_FILE names no trusted issuers, "
            "so anyone who can reach this service can call its hooks. Configure issuers, or "
            "set CDS_REQUIRE_AUTH=true to refuse to start like this. !!!"
        )
        return None
    log.info("client JWT required from: %s", ", ".join(sorted(issuers)))
    return Verifier(
        issuers=issuers,
        replay=replay_store(settings),
        public_base_url=settings.cds_public_base_url,
        leeway_s=settings.cds_jwt_leeway_s,
        max_lifetime_s=settings.cds_jwt_max_lifetime_s,
        fetch_timeout_s=settings.cds_jwks_timeout_s,
        jwks=JwksCache(
            ttl_s=settings.cds_jwks_ttl_s,
            refetch_floor_s=settings.cds_jwks_refetch_floor_s,
            failure_backoff_s=settings.cds_jwks_failure_backoff_s,
        ),
    )


def replay_store(settings: Settings) -> ReplayStore:
    if settings.redis_url:
        return RedisReplayStore.from_url(settings.redis_url, settings.cds_redis_prefix + "jti:")
    log.warning(
        "JWT replay protection is kept in this process's memory (REDIS_URL is not set): it "
        "forgets on restart, and other processes do not share it, so a token can be used "
        "again there until it expires. Set REDIS_URL for a shared, lasting store."
    )
    return MemoryReplayStore()
