"""JWK Sets fetched from the URLs trusted issuers publish: cached, refetched on rotation.

What an attacker who can reach the service, or the EHR's key endpoint, must not achieve:

- stall a fetch by dripping bytes (one deadline covers connect, headers and the whole body);
- make the service hold a huge "key set" (the body is streamed and cut at `MAX_JWKS_BYTES`);
- make the service hammer a failing endpoint (a failure is remembered, with backoff);
- lock EHRs out while their endpoint is down (the last good keys keep working);
- block a genuine key rotation with tokens naming made-up `kid`s (an unknown `kid` waits for
  the next fetch, at most one per `refetch_floor_s`, instead of being refused until a timer
  set by the attacker's token runs out).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import orjson
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

log = logging.getLogger(__name__)

# A JWK Set is a few kilobytes; anything far larger is not one.
MAX_JWKS_BYTES = 256 * 1024
# Failed fetches back off from `failure_backoff_s`, doubling up to this.
MAX_FAILURE_BACKOFF_S = 300.0


class JwksUnavailable(Exception):
    """No usable key: the reason is for the log, never for the client."""


@dataclass(slots=True)
class _KeySetState:
    """What is known of one JWK Set URL."""

    keys: KeySet | None = None
    fetched_at: float = -math.inf  # when `keys` were fetched
    attempt_started: float = -math.inf  # when the latest fetch (good or bad) began
    failures: int = 0  # consecutive failed fetches
    retry_after: float = -math.inf  # no fetch before this after a failure
    last_error: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """Keys by URL, kept for `ttl_s`. A token whose `kid` is not in the cached set waits for
    a fresh fetch (the EHR may have rotated its keys); fetches of one URL start at least
    `refetch_floor_s` apart, and tokens waiting together share one fetch."""

    def __init__(
        self,
        ttl_s: float = 3600.0,
        refetch_floor_s: float = 2.0,
        failure_backoff_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ttl_s = ttl_s
        self.refetch_floor_s = refetch_floor_s
        self.failure_backoff_s = failure_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._states: dict[str, _KeySetState] = {}

    async def key(self, http: httpx.AsyncClient, url: str, kid: str, timeout_s: float) -> Key:
        state = self._states.setdefault(url, _KeySetState())
        arrived = self._clock()
        if state.keys is not None and arrived - state.fetched_at <= self.ttl_s:
            key = by_kid(state.keys, kid)
            if key is not None:
                return key
        try:
            # Waiting for the lock, for the refetch floor and for the fetch itself.
            async with asyncio.timeout(self.refetch_floor_s + 2 * timeout_s):
                async with state.lock:
                    return await self._key_slowly(http, url, kid, timeout_s, state, arrived)
        except TimeoutError:
            raise JwksUnavailable(f"no key set from {url} in time") from None

    async def _key_slowly(
        self,
        http: httpx.AsyncClient,
        url: str,
        kid: str,
        timeout_s: float,
        state: _KeySetState,
        arrived: float,
    ) -> Key:
        if state.attempt_started < arrived:
            # No fetch began since this token arrived: one is due, unless a recent failure
            # says to wait (then the last good keys, if any, are all there is).
            now = self._clock()
            if now >= state.retry_after:
                expired = state.keys is None or now - state.fetched_at > self.ttl_s
                pause = state.attempt_started + self.refetch_floor_s - now
                if not expired and pause > 0:
                    await self._sleep(pause)
                await self._fetch(http, url, timeout_s, state)
        key = by_kid(state.keys, kid) if state.keys is not None else None
        if key is not None:
            return key
        if state.keys is None or self._clock() < state.retry_after:
            raise JwksUnavailable(f"no usable key set at {url}: {state.last_error}")
        raise JwksUnavailable(f"no key with kid {kid!r} at {url}")

    async def _fetch(
        self, http: httpx.AsyncClient, url: str, timeout_s: float, state: _KeySetState
    ) -> None:
        """Fetch into `state`. On failure the last good keys stay, and no fetch of this URL
        happens again before a backoff that doubles with each consecutive failure."""
        state.attempt_started = self._clock()
        try:
            keys = await _download(http, url, timeout_s)
        except JwksUnavailable as error:
            state.failures += 1
            backoff = min(self.failure_backoff_s * 2 ** (state.failures - 1), MAX_FAILURE_BACKOFF_S)
            state.retry_after = self._clock() + backoff
            state.last_error = str(error)
            log.warning(
                "JWK Set fetch failed: %s; next try in %g s%s",
                error,
                backoff,
                "; the last good keys stay in use" if state.keys is not None else "",
            )
            return
        state.keys, state.fetched_at = keys, self._clock()
        state.failures, state.retry_after, state.last_error = 0, -math.inf, ""


async def _download(http: httpx.AsyncClient, url: str, timeout_s: float) -> KeySet:
    """One GET within one deadline for everything (a slow drip cannot stretch it), read in
    chunks and cut off past `MAX_JWKS_BYTES`."""
    try:
        async with asyncio.timeout(timeout_s):
            async with http.stream(
                "GET", url, headers={"Accept": "application/json"}, follow_redirects=False
            ) as response:
                if response.status_code != 200:
                    raise JwksUnavailable(f"fetching {url} gave HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_JWKS_BYTES:
                    raise JwksUnavailable(f"{url} declares a body larger than a JWK Set")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksUnavailable(f"{url} sent more than a JWK Set holds")
    except TimeoutError:
        raise JwksUnavailable(f"fetching {url} took longer than {timeout_s:g} s") from None
    except httpx.HTTPError as error:
        raise JwksUnavailable(f"fetching {url} failed ({type(error).__name__})") from None
    try:
        return KeySet.import_key_set(orjson.loads(body))
    except (orjson.JSONDecodeError, JoseError, KeyError, TypeError, ValueError):
        raise JwksUnavailable(f"{url} does not hold a usable JWK Set") from None


def by_kid(keys: KeySet, kid: str) -> Key | None:
    try:
        return keys.get_by_kid(kid)
    except (JoseError, ValueError):
        return None
