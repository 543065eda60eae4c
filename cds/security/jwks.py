"""JWK Sets fetched from the URLs trusted issuers publish, cached, refetched on rotation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

# A JWK Set is a few kilobytes; anything far larger is not one.
MAX_JWKS_BYTES = 256 * 1024


class JwksUnavailable(Exception):
    """No usable key: the reason is for the log, never for the client."""


@dataclass(slots=True)
class _Cached:
    keys: KeySet
    fetched_at: float


class JwksCache:
    """Keys by URL, kept for `ttl_s`; an unknown `kid` refetches once (the EHR rotated its
    keys), but at most once per `refetch_floor_s`, so tokens with made-up `kid`s cannot make
    this service hammer the EHR's JWKS endpoint."""

    def __init__(
        self,
        ttl_s: float = 3600.0,
        refetch_floor_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.refetch_floor_s = refetch_floor_s
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._forced: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key(self, http: httpx.AsyncClient, url: str, kid: str, timeout_s: float) -> Key:
        async with self._locks.setdefault(url, asyncio.Lock()):
            cached = self._cache.get(url)
            fetched_now = cached is None or self._clock() - cached.fetched_at > self.ttl_s
            if cached is None or fetched_now:
                cached = await self._fetch(http, url, timeout_s)
            key = by_kid(cached.keys, kid)
            if key is not None:
                return key
            last_forced = self._forced.get(url)
            if fetched_now or (
                last_forced is not None and self._clock() - last_forced < self.refetch_floor_s
            ):
                raise JwksUnavailable(f"no key with kid {kid!r} at {url}")
            self._forced[url] = self._clock()
            cached = await self._fetch(http, url, timeout_s)
            key = by_kid(cached.keys, kid)
            if key is None:
                raise JwksUnavailable(f"no key with kid {kid!r} at {url}, even after refetching")
            return key

    async def _fetch(self, http: httpx.AsyncClient, url: str, timeout_s: float) -> _Cached:
        try:
            response = await http.get(url, timeout=timeout_s, follow_redirects=False)
        except httpx.HTTPError as error:
            raise JwksUnavailable(f"fetching {url} failed ({type(error).__name__})") from None
        if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
            raise JwksUnavailable(f"fetching {url} gave HTTP {response.status_code}")
        try:
            keys = KeySet.import_key_set(orjson.loads(response.content))
        except (orjson.JSONDecodeError, JoseError, KeyError, TypeError, ValueError):
            raise JwksUnavailable(f"{url} does not hold a usable JWK Set") from None
        cached = _Cached(keys, self._clock())
        self._cache[url] = cached
        return cached


def by_kid(keys: KeySet, kid: str) -> Key | None:
    try:
        return keys.get_by_kid(kid)
    except (JoseError, ValueError):
        return None
