"""The service's outbound HTTP clients: one per purpose, none with memory of its callers.

One client is shared by every hook call that reads an EHR's FHIR server, another by every
JWK Set fetch. Connection pools are worth sharing; cookies are not: a cookie one EHR's
server set would be sent, next to another caller's bearer token, on the next call to that
host, and FHIR cookies would reach the JWKS endpoints. So no client keeps cookies, and the
two purposes never share a client. Proxy variables (HTTP_PROXY, ALL_PROXY, .netrc, ...) are
ignored: where the service connects is decided by its own settings, not by its environment.
"""

from __future__ import annotations

import ssl
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any

import certifi
import httpx


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing, whatever a server sets."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The public CAs (certifi), plus a site's own CA when it names one: with the environment
    ignored, SSL_CERT_FILE cannot add a hospital's private CA, so this setting does."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def outbound_client(
    *,
    max_connections: int,
    max_keepalive_connections: int,
    timeout_s: float,
    ca_file: Path | None = None,
) -> httpx.AsyncClient:
    """A client that follows no redirect (one could lead off an allowed server), keeps no
    cookie, reads no proxy setting from the environment, and opens at most
    `max_connections` connections."""
    return httpx.AsyncClient(
        cookies=NoCookies(),
        trust_env=False,
        verify=tls_context(ca_file),
        follow_redirects=False,
        timeout=timeout_s,
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(max_keepalive_connections, max_connections),
        ),
    )
