"""Which URLs the service may connect to (SSRF guard for the FHIR server fallback).

A URL is compared with the allowlist after both are normalised the same way (scheme and host
in lower case, the default port dropped), and only at a path-segment boundary. Whatever a
server might read differently from this check is refused rather than interpreted: dot
segments in any spelling, `;` path parameters (`/fhir/..;/admin` climbs out on Tomcat-style
servers), backslashes, percent-encoded slashes, dots, backslashes, semicolons and percent
signs (`%2f`, `%2e`, `%5c`, `%3b`, `%25` for double encoding), and anything that is not
printable ASCII (a full-width dot `．` is a dot to a server that applies NFKC).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Printable ASCII without space: what is left is for the checks below.
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]*")
# In a path: backslashes, `;` parameters, and percent-encoded characters that some server
# would decode into path structure (`.`, `/`, `\`, `;`) or decode twice (`%`).
_AMBIGUOUS_IN_PATH = re.compile(r"[\\;]|%(2e|2f|5c|3b|25)", re.IGNORECASE)
_DOT_SEGMENTS = frozenset({".", ".."})


@dataclass(frozen=True, slots=True)
class _Normalised:
    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]


def is_allowed(url: str, prefixes: Iterable[str], *, query: bool = True) -> bool:
    """True when `url` lies under one of `prefixes` (same scheme, host and port, and the
    prefix's path segments first). `query=False` refuses a URL with a query string, for a
    base URL such as a request's `fhirServer`; a Bundle's `next` link carries one."""
    target = _normalise(url, query=query)
    if target is None:
        return False
    return any(
        (base := _normalise(prefix, query=False)) is not None and _under(target, base)
        for prefix in prefixes
    )


def _under(url: _Normalised, base: _Normalised) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and url.segments[
        : len(base.segments)
    ] == base.segments


def _normalise(url: str, *, query: bool) -> _Normalised | None:
    if not isinstance(url, str) or not _PRINTABLE_ASCII.fullmatch(url) or "#" in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not _plain(parts, query=query):
        return None
    segments = parts.path.split("/")[1:]
    if any(segment in _DOT_SEGMENTS for segment in segments):
        return None
    # "https://ehr/fhir/" names the same base as "https://ehr/fhir".
    while segments and segments[-1] == "":
        segments.pop()
    scheme = parts.scheme.lower()
    return _Normalised(
        scheme=scheme,
        host=(parts.hostname or "").lower(),
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        segments=tuple(segments),
    )


def _plain(parts: SplitResult, *, query: bool) -> bool:
    return (
        parts.scheme.lower() in _DEFAULT_PORTS
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
        and "@" not in parts.netloc
        and (query or not parts.query)
        and (not parts.path or parts.path.startswith("/"))
        and not _AMBIGUOUS_IN_PATH.search(parts.path)
    )
