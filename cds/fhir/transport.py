"""One GET to the EHR's FHIR server: the bearer token, the deadline, a bounded read, retries
of transient failures (exponential backoff with jitter, from tenacity), and the metric.

Only JSON FHIR resources come back; everything else is a `FetchFailed` whose reason is safe
to show the EHR (it never holds the token).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from cds.fhir.pool import HostSlots, PoolExhausted
from cds.ops.metrics import FHIR_CALLS
from fhir_mappings.json_access import JsonObject


class Failure(Enum):
    """Each kind of failure: its OperationOutcome issue code and its metric label (one of
    `cds.ops.metrics.FHIR_OUTCOMES`)."""

    TIMEOUT = ("timeout", "timeout")
    POOL_EXHAUSTED = ("throttled", "pool_exhausted")
    NETWORK = ("transient", "network_error")
    SERVER_ERROR = ("transient", "http_error")
    HTTP_ERROR = ("exception", "http_error")
    REFUSED = ("forbidden", "refused")
    INVALID = ("invalid", "invalid_response")
    INCOMPLETE = ("incomplete", "invalid_response")
    TOO_COSTLY = ("too-costly", "invalid_response")

    def __init__(self, issue_code: str, metric: str) -> None:
        self.issue_code = issue_code
        self.metric = metric


class FetchFailed(Exception):
    """Data could not be fetched; `reason` is safe to show the EHR."""

    def __init__(self, kind: Failure, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class TransientFailure(FetchFailed):
    """Worth another try: the connection failed or the server answered 5xx."""


class _DeadlineBeforeNextTry(stop_base):
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        remaining = self.deadline - asyncio.get_running_loop().time()
        return remaining <= retry_state.upcoming_sleep


@dataclass(frozen=True, slots=True)
class FhirTransport:
    http: httpx.AsyncClient = field(repr=False)
    timeout_s: float
    retries: int
    backoff_s: float
    max_response_bytes: int
    pool: HostSlots

    async def get_json(self, url: str, token: str, deadline: float) -> JsonObject:
        """GET one FHIR resource before `deadline` (event-loop time), retrying transient
        failures while attempts and time remain."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientFailure),
            wait=wait_exponential_jitter(multiplier=self.backoff_s, jitter=self.backoff_s),
            stop=stop_after_attempt(self.retries + 1) | _DeadlineBeforeNextTry(deadline),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._get_counted(url, token, deadline)
        except TransientFailure as failure:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise FetchFailed(
                failure.kind, f"{failure.reason} (after {attempts} attempts)"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _get_counted(self, url: str, token: str, deadline: float) -> JsonObject:
        try:
            result = await self._get_once(url, token, deadline)
        except FetchFailed as failure:
            FHIR_CALLS.labels(outcome=failure.kind.metric).inc()
            raise
        except asyncio.CancelledError:
            # The hook call's overall deadline cancels what is still in flight: a timeout.
            if asyncio.get_running_loop().time() >= deadline:
                FHIR_CALLS.labels(outcome="timeout").inc()
            raise
        FHIR_CALLS.labels(outcome="ok").inc()
        return result

    async def _get_once(self, url: str, token: str, deadline: float) -> JsonObject:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise FetchFailed(Failure.TIMEOUT, "no time left before the overall deadline")
        try:
            request = self.http.build_request(
                "GET",
                url,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
                timeout=self.pool.limits.request_timeout(min(remaining, self.timeout_s)),
            )
        except (httpx.InvalidURL, UnicodeEncodeError, ValueError) as error:
            # A URL or token that cannot go into an HTTP request (the callers check both
            # first; this keeps a slip from becoming a 500).
            raise FetchFailed(
                Failure.INVALID, f"the request could not be written ({type(error).__name__})"
            ) from None
        try:
            async with self.pool.hold(url, remaining):
                return await self._send(request)
        except PoolExhausted as exhausted:
            raise self._exhausted(str(exhausted)) from None

    def _exhausted(self, why: str) -> FetchFailed:
        return FetchFailed(
            Failure.POOL_EXHAUSTED,
            f"no free connection to the FHIR server within {self.pool.limits.wait_s:g} s: "
            f"{why}; the call was not queued, try again shortly",
        )

    async def _send(self, request: httpx.Request) -> JsonObject:
        try:
            response = await self.http.send(request, stream=True, follow_redirects=False)
        except httpx.PoolTimeout:
            raise self._exhausted(self.pool.limits.describe()) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as error:
            raise TransientFailure(
                Failure.NETWORK, f"could not connect ({type(error).__name__})"
            ) from None
        except httpx.TimeoutException:
            raise FetchFailed(Failure.TIMEOUT, "the FHIR server did not answer in time") from None
        except httpx.HTTPError as error:
            raise FetchFailed(
                Failure.HTTP_ERROR, f"request failed ({type(error).__name__})"
            ) from None
        try:
            return await self._read(response)
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response) -> JsonObject:
        status = response.status_code
        if status >= 500:
            raise TransientFailure(Failure.SERVER_ERROR, f"HTTP {status} from the FHIR server")
        if 300 <= status < 400:
            raise FetchFailed(
                Failure.REFUSED, f"HTTP {status} redirect from the FHIR server (not followed)"
            )
        if status != 200:
            raise FetchFailed(Failure.HTTP_ERROR, f"HTTP {status} from the FHIR server")
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise FetchFailed(Failure.TOO_COSTLY, "the FHIR server's answer is too large")
        except httpx.TimeoutException:
            raise FetchFailed(Failure.TIMEOUT, "the FHIR server did not answer in time") from None
        except httpx.HTTPError as error:
            raise TransientFailure(
                Failure.NETWORK, f"reading failed ({type(error).__name__})"
            ) from None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FetchFailed(Failure.INVALID, "the FHIR server's answer is not JSON") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("resourceType"), str):
            raise FetchFailed(Failure.INVALID, "the FHIR server's answer is not a FHIR resource")
        if parsed["resourceType"] == "OperationOutcome":
            raise FetchFailed(
                Failure.HTTP_ERROR, "the FHIR server answered with an OperationOutcome"
            )
        return parsed
