"""Client JWT verification (CDS Hooks §7, digest §7) and the middleware that requires it.

Any failure answers 401 with no details; the reason goes to the log together with the
token's `iss` and `jti`, never the token itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cds.api.errors import operation_outcome
from cds.api.responses import JsonResponse
from cds.ops.metrics import AUTH_FAILURES
from cds.security.bearer import is_bearer_token
from cds.security.failure_reasons import REASONS, reason_label
from cds.security.jwks import JwksCache, JwksUnavailable, by_kid
from cds.security.replay import ReplayStore
from cds.security.trusted_issuers import TrustedIssuer

log = logging.getLogger(__name__)

# The spec recommends these two and forbids `none` and HMAC; nothing else is accepted.
ALGORITHMS = ("ES384", "RS384")
MAX_TOKEN_BYTES = 16 * 1024
# Key ids are short names; a long one is not a key id, and would only fill the log.
MAX_KID_CHARS = 256
PROTECTED_PREFIX = "/cds-services/"

for _reason in REASONS:
    AUTH_FAILURES.labels(reason=_reason)  # each series from zero, before the first refusal


class AuthFailed(Exception):
    """Why a token was refused, for the log; `iss` and `jti` as the token claimed them."""

    def __init__(self, reason: str, iss: Any = None, jti: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.iss = iss
        self.jti = jti


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The verified caller, put in `request.state.cds_client` for the endpoints."""

    iss: str
    jti: str
    tenant: str | None
    claims: dict[str, Any] = field(repr=False)


@dataclass(slots=True)
class Verifier:
    issuers: dict[str, TrustedIssuer]
    replay: ReplayStore
    public_base_url: str
    leeway_s: int
    # A jti must be remembered until its token expires; tokens meant to live longer than
    # this cannot be remembered safely (best practice is under an hour), so they are refused.
    max_lifetime_s: int
    fetch_timeout_s: float
    jwks: JwksCache = field(default_factory=JwksCache)

    async def verify(self, token: str, path: str, http: httpx.AsyncClient) -> ClientIdentity:
        header, unverified = _unverified_parts(token)
        iss, jti = unverified.get("iss"), unverified.get("jti")
        try:
            return await self._verify(token, header, iss, path, http)
        except AuthFailed as failure:
            failure.iss, failure.jti = iss, jti
            raise

    async def _verify(
        self, token: str, header: dict[str, Any], iss: Any, path: str, http: httpx.AsyncClient
    ) -> ClientIdentity:
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise AuthFailed(f"alg {_loggable(alg)} is not one of {', '.join(ALGORITHMS)}")
        if not isinstance(kid, str) or not kid:
            raise AuthFailed("no kid in the header")
        if len(kid) > MAX_KID_CHARS:
            raise AuthFailed(f"kid is longer than {MAX_KID_CHARS} characters")
        if "typ" in header and str(header["typ"]).upper() != "JWT":
            raise AuthFailed(f"typ {_loggable(header['typ'])} is not JWT")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthFailed("iss is not a trusted issuer")
        key = await self._key(issuer, header, kid, http)
        try:
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS)).claims
        except (JoseError, ValueError) as error:
            raise AuthFailed(f"signature not verified ({type(error).__name__})") from None
        audience = self.public_base_url.rstrip("/") + path
        now = int(time.time())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway_s,
            iss={"essential": True, "value": issuer.iss},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise AuthFailed(f"claims refused ({error})") from None
        jti, exp = claims["jti"], claims["exp"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            raise AuthFailed("jti is not a short string")
        if exp > now + self.max_lifetime_s:
            raise AuthFailed("exp is too far in the future to remember the jti that long")
        ttl = max(int(exp - now) + self.leeway_s, 1)
        replay_key = hashlib.sha256(f"{issuer.iss}\0{jti}".encode()).hexdigest()
        try:
            first = await self.replay.first_use(replay_key, ttl)
        except Exception as error:
            # Fail closed: without the replay store a captured token could be replayed.
            log.error("jti replay store unavailable: %s", type(error).__name__)
            raise AuthFailed("replay store unavailable") from None
        if not first:
            raise AuthFailed("jti was already used (replay)")
        tenant = claims.get("tenant")
        return ClientIdentity(
            iss=issuer.iss,
            jti=jti,
            tenant=tenant if isinstance(tenant, str) else None,
            claims=claims,
        )

    async def _key(
        self, issuer: TrustedIssuer, header: dict[str, Any], kid: str, http: httpx.AsyncClient
    ) -> Key:
        """The issuer's configured keys verify its tokens. A `jku` header is honoured only
        when it names a URL allowed for this issuer; with a pinned key set it is not even
        fetched, so an EHR behind a firewall can be trusted by pinning its keys."""
        jku = header.get("jku")
        if jku is not None and not (isinstance(jku, str) and issuer.allows_jku(jku)):
            raise AuthFailed("jku is not on the issuer's list")
        if issuer.jwks is not None:
            key = by_kid(issuer.jwks, kid)
            if key is None:
                raise AuthFailed(f"no key with kid {_loggable(kid)} in the issuer's pinned JWK Set")
            return key
        url = jku if jku is not None else issuer.jwks_url
        assert url is not None
        try:
            return await self.jwks.key(http, url, kid, self.fetch_timeout_s)
        except JwksUnavailable as error:
            raise AuthFailed(str(error)) from None

    async def aclose(self) -> None:
        await self.replay.aclose()


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before verification: only to choose the issuer and the key."""
    if len(token) > MAX_TOKEN_BYTES or not is_bearer_token(token):
        raise AuthFailed("not a bearer token (RFC 6750 characters only)")
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthFailed("not a JWS compact serialization")
    try:
        header, claims = (orjson.loads(_b64url(part)) for part in parts[:2])
    except (binascii.Error, ValueError):
        raise AuthFailed("header or claims are not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthFailed("header or claims are not JSON objects")
    return header, claims


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class AuthMiddleware:
    """Requires a verified client JWT on every POST under /cds-services/ (hooks, feedback).

    By path, not by route, so endpoints added later are covered without opting in.
    """

    def __init__(
        self, app: ASGIApp, verifier: Verifier, http: Callable[[], httpx.AsyncClient]
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _protected(scope):
            await self.app(scope, receive, send)
            return
        try:
            token = _bearer_token(scope)
            identity = await self.verifier.verify(token, scope["path"], self.http())
        except AuthFailed as failure:
            AUTH_FAILURES.labels(reason=reason_label(failure.reason)).inc()
            log.warning(
                "client JWT refused: %s (iss=%s jti=%s)",
                failure.reason,
                _loggable(failure.iss),
                _loggable(failure.jti),
            )
            await _unauthorized(scope, receive, send)
            return
        except Exception:
            # A bug here must still refuse: fail closed, and keep the traceback for us.
            AUTH_FAILURES.labels(reason="internal_error").inc()
            log.exception("client JWT verification failed unexpectedly")
            await _unauthorized(scope, receive, send)
            return
        log.info("client JWT accepted (iss=%s jti=%s)", identity.iss, _loggable(identity.jti))
        scope.setdefault("state", {})["cds_client"] = identity
        await self.app(scope, receive, send)


def _protected(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path: str = scope["path"]
    return path.startswith(PROTECTED_PREFIX)


def _bearer_token(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise AuthFailed("Authorization is not a Bearer token")
    raise AuthFailed("no Authorization header")


def _loggable(value: Any) -> str:
    """Claims from a refused token are attacker-chosen: quoted and cut short in the log."""
    return repr(value)[:120]


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    body = operation_outcome([("login", "authentication failed", ())])
    response = JsonResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    await response(scope, receive, send)


def caller_issuer(request: Request) -> str | None:
    """The verified `iss` of the client that made `request`; None when the service runs
    without authentication."""
    identity = getattr(request.state, "cds_client", None)
    return identity.iss if isinstance(identity, ClientIdentity) else None
