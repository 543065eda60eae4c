"""Seen `jti` values, so a captured client JWT cannot be sent again (digest §7)."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis


class ReplayStore(Protocol):
    async def first_use(self, key: str, ttl_s: int) -> bool:
        """Record `key` for `ttl_s` seconds; False when it was already recorded."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be used now (for readiness)."""
        ...

    async def aclose(self) -> None: ...


class MemoryReplayStore:
    """One process only: with several replicas use Redis, or a token replays on another."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._expiry: dict[str, float] = {}
        # Soonest expiry first, so pruning costs only what has expired.
        self._queue: list[tuple[float, str]] = []
        self._clock = clock

    async def first_use(self, key: str, ttl_s: int) -> bool:
        now = self._clock()
        while self._queue and self._queue[0][0] <= now:
            _, expired = heapq.heappop(self._queue)
            if self._expiry.get(expired, now + 1) <= now:
                del self._expiry[expired]
        if key in self._expiry:
            return False
        self._expiry[key] = now + ttl_s
        heapq.heappush(self._queue, (now + ttl_s, key))
        return True

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._expiry.clear()
        self._queue.clear()


class RedisReplayStore:
    """Shared by every replica: SET NX EX is one atomic step, so two replicas cannot both
    accept the same token."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str, timeout_s: float = 2.0) -> RedisReplayStore:
        # Bounded, so a stalled Redis refuses calls (fail closed) instead of hanging them.
        redis = Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        return cls(redis, prefix)

    async def first_use(self, key: str, ttl_s: int) -> bool:
        return bool(await self._redis.set(f"{self._prefix}{key}", b"1", nx=True, ex=ttl_s))

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()
