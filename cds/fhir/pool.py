"""The connection pool to FHIR servers: its size (CDS_FHIR_MAX_CONNECTIONS, applied by the
outbound client, `cds.security.outbound`), a limit per server, and how long a request may
wait for a connection.

A pool that is too small for the load must not make requests queue: a request that waits
past the hook's deadline fails anyway, having held its place in the queue, and once the queue
is longer than a deadline's worth every call fails (the fallback collapses). So a request
waits at most `CDS_FHIR_POOL_TIMEOUT_S` for a connection and otherwise fails at once with a
412 that says the pool is exhausted; the calls the pool can carry still succeed.

Sizing: one hook call holds one connection per search it runs (two when neither conditions
nor medications were prefetched) for the FHIR server's answer time, so a worker carries
`pool size / (answer time × searches per call)` fallback calls per second: 50/s with the
defaults at 2 s per answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from cds.settings import Settings


class PoolExhausted(Exception):
    """No connection became free within the pool-wait timeout."""


@dataclass(frozen=True, slots=True)
class PoolLimits:
    size: int
    per_host: int
    wait_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolLimits:
        size = settings.cds_fhir_max_connections
        per_host = min(settings.cds_fhir_max_connections_per_host or size, size)
        return cls(size=size, per_host=per_host, wait_s=settings.cds_fhir_pool_timeout_s)

    def request_timeout(self, remaining_s: float) -> httpx.Timeout:
        """Connect, read and write within what is left of the deadline; wait for a pooled
        connection no longer than the pool-wait timeout."""
        return httpx.Timeout(remaining_s, pool=min(remaining_s, self.wait_s))

    def describe(self) -> str:
        if self.per_host < self.size:
            return (
                f"all {self.per_host} connections allowed to this FHIR server are busy "
                "(CDS_FHIR_MAX_CONNECTIONS_PER_HOST)"
            )
        return f"all {self.size} connections to FHIR servers are busy (CDS_FHIR_MAX_CONNECTIONS)"


@dataclass(slots=True)
class HostSlots:
    """At most `per_host` requests in flight to one server (scheme, host and port), so one
    slow EHR cannot take every connection of the pool. Not needed, and not applied, when the
    limit is the pool size."""

    limits: PoolLimits
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, url: str, remaining_s: float) -> AsyncIterator[None]:
        if self.limits.per_host >= self.limits.size:
            yield
            return
        origin = _origin(url)
        slots = self._slots.get(origin)
        if slots is None:
            slots = self._slots[origin] = asyncio.Semaphore(self.limits.per_host)
        try:
            async with asyncio.timeout(min(remaining_s, self.limits.wait_s)):
                await slots.acquire()
        except TimeoutError:
            raise PoolExhausted(self.limits.describe()) from None
        try:
            yield
        finally:
            slots.release()


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"
