"""JWK Set fetching under attack: a slow drip, a huge body, a failing endpoint, and made-up
`kid`s sent to block a key rotation. The EHR's endpoint is mocked at the HTTP boundary; the
cache's clock is a test clock, so waits cost no real time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from joserfc.jwk import ECKey, Key

from cds.security.jwks import MAX_JWKS_BYTES, JwksCache, JwksUnavailable
from cds.security.outbound import outbound_client

URL = "https://ehr.example.org/.well-known/jwks.json"
OLD = ECKey.generate_key("P-384", parameters={"kid": "ehr-2025"})
NEW = ECKey.generate_key("P-384", parameters={"kid": "ehr-2026"})


def key_set(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


class ManualClock:
    """Monotonic time that moves only when the cache sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cache(clock: ManualClock) -> JwksCache:
    return JwksCache(
        ttl_s=3600, refetch_floor_s=2.0, failure_backoff_s=5.0, clock=clock, sleep=clock.sleep
    )


@pytest.fixture
def ehr() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(URL, name="jwks").respond(json=key_set(OLD))
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with outbound_client(
        max_connections=2, max_keepalive_connections=2, timeout_s=1.0
    ) as client:
        yield client


async def test_concurrent_made_up_kids_share_one_refetch(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    await cache.key(http, URL, OLD.kid, 1.0)
    clock.now += 0.1

    results = await asyncio.gather(
        *(cache.key(http, URL, f"made-up-{n}", 1.0) for n in range(20)), return_exceptions=True
    )

    assert all(isinstance(r, JwksUnavailable) for r in results)
    assert ehr["jwks"].call_count == 2, "twenty unknown kids waiting together: one refetch"


async def test_made_up_kids_one_after_another_are_paced_by_the_floor(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    await cache.key(http, URL, OLD.kid, 1.0)
    started = clock.now

    for n in range(5):
        clock.now += 0.1
        with pytest.raises(JwksUnavailable, match="no key with kid"):
            await cache.key(http, URL, f"made-up-{n}", 1.0)

    refetches = ehr["jwks"].call_count - 1
    assert refetches == 5
    assert clock.now - started >= refetches * 2.0, "at most one fetch per refetch floor"


async def test_a_made_up_kid_does_not_hold_off_a_genuine_rotation(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    await cache.key(http, URL, OLD.kid, 1.0)
    with pytest.raises(JwksUnavailable):
        await cache.key(http, URL, "forged", 1.0)
    # The EHR rotates its keys right after the forged token made the service refetch.
    ehr["jwks"].respond(json=key_set(OLD, NEW))
    clock.now += 0.1

    key = await cache.key(http, URL, NEW.kid, 1.0)

    assert key.kid == NEW.kid, "the genuine token waits for the next fetch, not 30 s of refusals"
    assert clock.slept and clock.slept[-1] <= 2.0


async def test_a_slow_drip_is_cut_off_by_one_deadline(
    cache: JwksCache, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    async def drip() -> AsyncIterator[bytes]:
        yield b'{"keys": ['
        while True:  # one byte at a time, each well within any per-read timeout
            await asyncio.sleep(0.02)
            yield b" "

    ehr["jwks"].mock(side_effect=lambda request: httpx.Response(200, content=drip()))

    with pytest.raises(JwksUnavailable, match=r"took longer than 0\.3 s"):
        await cache.key(http, URL, OLD.kid, 0.3)


async def test_a_huge_body_is_not_read_past_the_cap(
    cache: JwksCache, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b" " * 65536
        for _ in range(8000):  # 500 MB, were it all read
            sent += len(chunk)
            yield chunk

    ehr["jwks"].mock(side_effect=lambda request: httpx.Response(200, content=endless()))

    with pytest.raises(JwksUnavailable, match="more than a JWK Set holds"):
        await cache.key(http, URL, OLD.kid, 5.0)
    assert sent <= MAX_JWKS_BYTES + 65536


async def test_a_declared_huge_body_is_refused_before_reading(
    cache: JwksCache, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    ehr["jwks"].respond(headers={"Content-Length": str(500 * 1024 * 1024)}, content=b"{}")
    with pytest.raises(JwksUnavailable, match="declares a body larger"):
        await cache.key(http, URL, OLD.kid, 1.0)


async def test_a_failing_endpoint_is_not_asked_again_until_its_backoff_ends(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    ehr["jwks"].respond(503)
    for _ in range(10):
        with pytest.raises(JwksUnavailable, match="HTTP 503"):
            await cache.key(http, URL, OLD.kid, 1.0)
    assert ehr["jwks"].call_count == 1, "a failure is remembered"

    clock.now += 5.1
    with pytest.raises(JwksUnavailable):
        await cache.key(http, URL, OLD.kid, 1.0)
    assert ehr["jwks"].call_count == 2

    clock.now += 5.1  # the second failure doubled the wait to 10 s
    with pytest.raises(JwksUnavailable):
        await cache.key(http, URL, OLD.kid, 1.0)
    assert ehr["jwks"].call_count == 2

    ehr["jwks"].respond(json=key_set(OLD))
    clock.now += 5.0
    assert (await cache.key(http, URL, OLD.kid, 1.0)).kid == OLD.kid


async def test_the_last_good_keys_serve_while_a_refresh_fails(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    await cache.key(http, URL, OLD.kid, 1.0)
    ehr["jwks"].respond(500)
    clock.now += 3601  # the set is past its TTL: a refresh is due, and fails

    assert (await cache.key(http, URL, OLD.kid, 1.0)).kid == OLD.kid
    assert (await cache.key(http, URL, OLD.kid, 1.0)).kid == OLD.kid
    assert ehr["jwks"].call_count == 2, "one failed refresh, then the backoff holds"


async def test_jwks_cookies_are_not_kept(
    cache: JwksCache, clock: ManualClock, ehr: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    ehr["jwks"].respond(json=key_set(OLD), headers={"Set-Cookie": "session=jwks; Path=/"})
    await cache.key(http, URL, OLD.kid, 1.0)
    clock.now += 0.1
    ehr["jwks"].respond(json=key_set(OLD, NEW))
    await cache.key(http, URL, NEW.kid, 1.0)

    assert "cookie" not in ehr["jwks"].calls.last.request.headers
