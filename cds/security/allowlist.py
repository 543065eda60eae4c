"""Which URLs the service may connect to (SSRF guard for the FHIR server fallback)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

# Percent-encoded forms too: some servers decode them before resolving the path.
_DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})


def is_allowed(url: str, prefixes: Iterable[str]) -> bool:
    """True when `url` starts with one of `prefixes` at a URL boundary.

    A bare string prefix would let `https://fhir.example.org` admit
    `https://fhir.example.org.evil.net` or `https://fhir.example.org@evil.net`, and dot
    segments could climb out of an allowed path, so those are refused.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return False
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return False
    if parsed.userinfo or parsed.fragment or _has_dot_segment(url):
        return False
    return any(_starts_at_boundary(url, prefix) for prefix in prefixes)


def _starts_at_boundary(url: str, prefix: str) -> bool:
    # "https://ehr/fhir/" also admits "https://ehr/fhir", the same base written without "/".
    prefix = prefix.rstrip("/")
    if not prefix or not url.startswith(prefix):
        return False
    return len(url) == len(prefix) or url[len(prefix)] in "/?"


def _has_dot_segment(url: str) -> bool:
    path = url.split("?", 1)[0].lower()
    return any(segment in _DOT_SEGMENTS for segment in path.split("/")[3:])
