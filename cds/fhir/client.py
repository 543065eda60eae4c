"""The FHIR server fallback: fetch what prefetch did not satisfy from the EHR (digest §3).

Only servers on CDS_FHIR_ALLOWLIST are contacted; redirects are never followed; the access
token goes into the Authorization header and nowhere else (no logs, no error text).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from cds.api.errors import DataUnavailable, operation_outcome
from cds.api.limits import MAX_BUNDLE_ENTRIES
from cds.api.models import HookRequest
from cds.fhir.paging import matches, next_link
from cds.fhir.patient_data import Unsatisfied, describe
from cds.ops.metrics import FHIR_CALLS
from cds.security.allowlist import is_allowed
from cds.settings import Settings
from fhir_mappings.json_access import JsonObject, number, obj, objs, text
from fhir_mappings.resources import ResourceSet, collect

log = logging.getLogger(__name__)

# Bounded so a flaky server cannot hold a hook call past the overall deadline anyway.
RETRIES = 2
BACKOFF_S = 0.1
MAX_MEDICATION_LOOKUPS = 100
_MEDICATION_REFERENCE = re.compile(r"Medication/([A-Za-z0-9\-.]{1,64})")
_ORDERS = frozenset({"MedicationRequest", "MedicationStatement"})
# FetchFailed codes → the bounded outcome labels of cds_fhir_fallback_calls_total.
_METRIC_OUTCOMES = {
    "timeout": "timeout",
    "transient": "network_error",
    "forbidden": "refused",
    "invalid": "invalid_response",
    "incomplete": "invalid_response",
    "too-costly": "invalid_response",
    "exception": "http_error",
}


class FetchFailed(Exception):
    """One prefetch key could not be fetched; `reason` is safe to show the EHR."""

    def __init__(self, code: str, reason: str, outcome: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        # The metric label: the kind of failure, where the issue code alone is too coarse.
        self.outcome = outcome or _METRIC_OUTCOMES.get(code, "http_error")


class _Retryable(FetchFailed):
    pass


@dataclass(frozen=True, slots=True)
class KeyFailure:
    key: str
    code: str
    reason: str


class FhirDataUnavailable(DataUnavailable):
    """412 with one OperationOutcome issue per prefetch key that could not be had."""

    def __init__(self, server: str, failures: list[KeyFailure]) -> None:
        super().__init__(
            f"Required data could not be fetched from the FHIR server {server}: "
            + "; ".join(f"{f.key}: {f.reason}" for f in failures),
            [f.key for f in failures],
        )
        self.failures = tuple(failures)

    def body(self) -> dict[str, Any]:
        return operation_outcome(
            (f.code, f"{f.key}: {f.reason}", [f"prefetch.{f.key}"]) for f in self.failures
        )


@dataclass(frozen=True, slots=True)
class FhirServerFallback:
    """A `cds.fhir.patient_data.Fallback` that queries the EHR's FHIR server."""

    http: httpx.AsyncClient
    allowlist: tuple[str, ...]
    timeout_s: float
    max_pages: int
    max_response_bytes: int

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, settings: Settings) -> FhirServerFallback:
        return cls(
            http=http,
            allowlist=settings.fhir_allowlist,
            timeout_s=settings.cds_fhir_timeout_s,
            max_pages=settings.cds_fhir_max_pages,
            # A FHIR answer may be larger than a hook request, but not without bound.
            max_response_bytes=4 * settings.cds_max_body_bytes,
        )

    async def __call__(
        self, request: HookRequest, missing: Mapping[str, Unsatisfied]
    ) -> dict[str, Any]:
        server, token = self._usable_server(request, missing)
        loop = asyncio.get_running_loop()
        session = _Session(self, server, token, loop.time() + self.timeout_s, request)
        log.info("FHIR fallback: fetching %s from %s", ", ".join(missing), server)
        results: dict[str, Any] = {}
        failures: dict[str, KeyFailure] = {}

        async def fetch(key: str, wanted: Unsatisfied) -> None:
            try:
                results[key] = await session.fetch_key(wanted)
            except FetchFailed as failure:
                failures[key] = KeyFailure(key, failure.code, failure.reason)

        try:
            async with asyncio.timeout(self.timeout_s), asyncio.TaskGroup() as group:
                for key, wanted in missing.items():
                    group.create_task(fetch(key, wanted))
        except TimeoutError:
            for key in missing:
                if key not in results and key not in failures:
                    failures[key] = KeyFailure(
                        key, "timeout", f"no complete answer within {self.timeout_s:g} s"
                    )
        if failures:
            ordered = [failures[k] for k in missing if k in failures]
            log.warning(
                "FHIR fallback failed: %s", "; ".join(f"{f.key}: {f.reason}" for f in ordered)
            )
            raise FhirDataUnavailable(server, ordered)
        return results

    async def resolve_references(self, request: HookRequest, record: ResourceSet) -> None:
        """Best effort: fetch the Medications that prefetched orders reference but the data
        does not hold. Prefetch was complete, so a failure here is logged, not a 412."""
        if not any(_unresolved_reference(o, record) for o in record.medication_orders):
            return
        try:
            server, token = self._usable_server(request, {"medications": Unsatisfied("")})
        except DataUnavailable:
            log.warning("medication references left unresolved: no usable FHIR server")
            return
        loop = asyncio.get_running_loop()
        session = _Session(self, server, token, loop.time() + self.timeout_s, request)
        bundle: JsonObject = {
            "resourceType": "Bundle",
            "entry": [{"resource": order} for order in record.medication_orders],
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                await session.resolve_medications(bundle)
        except (FetchFailed, TimeoutError) as error:
            log.warning("medication references left unresolved: %s", error or "timeout")
            return
        for entry in bundle["entry"]:
            if entry["resource"].get("resourceType") == "Medication":
                record.add(entry["resource"], entry.get("fullUrl"))

    def _usable_server(
        self, request: HookRequest, missing: Mapping[str, Unsatisfied]
    ) -> tuple[str, str]:
        needed = f"Required prefetch data is missing or incomplete: {describe(missing)}."
        server = request.fhirServer
        if not server:
            raise DataUnavailable(f"{needed} The request names no fhirServer.", missing)
        if not is_allowed(server, self.allowlist):
            raise DataUnavailable(
                f"{needed} The FHIR server {server} is not on this service's allowlist; "
                "it was not contacted.",
                missing,
            )
        if request.fhirAuthorization is None:
            raise DataUnavailable(
                f"{needed} The request has no fhirAuthorization access token for the FHIR server.",
                missing,
            )
        return server.rstrip("/"), request.fhirAuthorization.access_token


@dataclass(slots=True)
class _Session:
    """The fetches of one hook call: one server, one token, one deadline."""

    fallback: FhirServerFallback
    base: str
    token: str = field(repr=False)
    deadline: float
    request: HookRequest

    async def fetch_key(self, wanted: Unsatisfied) -> Any:
        first = wanted.first_page
        if first is None or next_link(first) is None:
            # A prefetched page with a `total` but no link to the rest: search again.
            first = await self.get_json(f"{self.base}/{wanted.query.lstrip('/')}")
        if first.get("resourceType") != "Bundle":
            return first
        entries = _entries(first)
        page, pages = first, 1
        while (next_url := next_link(page, self.base)) is not None:
            if pages >= self.fallback.max_pages:
                raise FetchFailed(
                    "too-costly",
                    f"the search has more than {self.fallback.max_pages} pages "
                    "(CDS_FHIR_MAX_PAGES); partial data could give wrong advice",
                )
            # Within the allowlist and under this server's base: same origin and path prefix.
            if not (
                is_allowed(next_url, self.fallback.allowlist) and is_allowed(next_url, (self.base,))
            ):
                raise FetchFailed(
                    "forbidden", "a Bundle next link points outside the allowed FHIR server"
                )
            page = await self.get_json(next_url)
            if page.get("resourceType") != "Bundle":
                raise FetchFailed("invalid", "a next page is not a Bundle")
            entries.extend(_entries(page))
            pages += 1
            if len(entries) > MAX_BUNDLE_ENTRIES:
                raise FetchFailed(
                    "too-costly", f"the search returned more than {MAX_BUNDLE_ENTRIES} entries"
                )
        bundle: JsonObject = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        total = number(first.get("total"))
        if total is not None and total > matches(bundle):
            raise FetchFailed(
                "incomplete",
                f"the server counts {total:g} results but its pages hold {matches(bundle)}; "
                "partial data could give wrong advice",
            )
        await self.resolve_medications(bundle)
        return bundle

    async def resolve_medications(self, bundle: JsonObject) -> None:
        """Add the Medications that orders reference but neither prefetch nor the search
        included, so `fhir_mappings.resources.collect` can identify the drug."""
        known = collect([bundle, *(self.request.prefetch or {}).values()]).medications
        wanted = sorted(
            {
                medication_id
                for entry in objs(bundle.get("entry"))
                if (medication_id := self._unresolved(obj(entry.get("resource")), known))
            }
        )
        if not wanted:
            return
        if len(wanted) > MAX_MEDICATION_LOOKUPS:
            raise FetchFailed(
                "too-costly", f"more than {MAX_MEDICATION_LOOKUPS} Medications to look up"
            )
        found: dict[str, JsonObject] = {}

        async def lookup(medication_id: str) -> None:
            try:
                medication = await self.get_json(f"{self.base}/Medication/{medication_id}")
            except FetchFailed as failure:
                raise FetchFailed(
                    failure.code, f"Medication/{medication_id}: {failure.reason}"
                ) from None
            if medication.get("resourceType") != "Medication":
                raise FetchFailed("invalid", f"Medication/{medication_id} is not a Medication")
            found[medication_id] = medication

        try:
            async with asyncio.TaskGroup() as group:
                for medication_id in wanted:
                    group.create_task(lookup(medication_id))
        except* FetchFailed as group_error:
            first = group_error.exceptions[0]
            assert isinstance(first, FetchFailed)
            raise first from None
        bundle["entry"].extend(
            {"fullUrl": f"{self.base}/Medication/{medication_id}", "resource": found[medication_id]}
            for medication_id in wanted
        )

    def _unresolved(self, resource: JsonObject, known: Mapping[str, Any]) -> str | None:
        if resource.get("resourceType") not in _ORDERS:
            return None
        reference = text(obj(resource.get("medicationReference")).get("reference"))
        if not reference or reference.startswith("#") or reference in known:
            return None
        if reference.startswith(f"{self.base}/"):
            reference = reference[len(self.base) + 1 :]
        match = _MEDICATION_REFERENCE.fullmatch(reference)
        if match is None or reference in known:
            # Another server's Medication, or no FHIR id: the order stays unidentified.
            return None
        return match.group(1)

    async def get_json(self, url: str) -> JsonObject:
        """GET one FHIR resource, retrying connection errors and 5xx with backoff."""
        attempt = 0
        while True:
            try:
                return await self._get_once(url)
            except _Retryable as failure:
                attempt += 1
                delay = BACKOFF_S * 2 ** (attempt - 1)
                if attempt > RETRIES or self._remaining() <= delay:
                    raise FetchFailed(
                        failure.code, f"{failure.reason} (after {attempt} attempts)"
                    ) from None
                await asyncio.sleep(delay)

    async def _get_once(self, url: str) -> JsonObject:
        try:
            result = await self._get_and_read(url)
        except FetchFailed as failure:
            FHIR_CALLS.labels(outcome=failure.outcome).inc()
            raise
        FHIR_CALLS.labels(outcome="ok").inc()
        return result

    async def _get_and_read(self, url: str) -> JsonObject:
        remaining = self._remaining()
        if remaining <= 0:
            raise FetchFailed("timeout", "no time left before the overall deadline")
        request = self.fallback.http.build_request(
            "GET",
            url,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"},
            timeout=httpx.Timeout(min(remaining, self.fallback.timeout_s)),
        )
        try:
            response = await self.fallback.http.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as error:
            raise _Retryable("transient", f"could not connect ({type(error).__name__})") from None
        except httpx.TimeoutException:
            raise FetchFailed("timeout", "the FHIR server did not answer in time") from None
        except httpx.HTTPError as error:
            raise FetchFailed("exception", f"request failed ({type(error).__name__})") from None
        try:
            return await self._read(response)
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response) -> JsonObject:
        status = response.status_code
        if status >= 500:
            raise _Retryable("transient", f"HTTP {status} from the FHIR server", "http_error")
        if 300 <= status < 400:
            raise FetchFailed(
                "forbidden", f"HTTP {status} redirect from the FHIR server (not followed)"
            )
        if status != 200:
            raise FetchFailed("exception", f"HTTP {status} from the FHIR server")
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.fallback.max_response_bytes:
                    raise FetchFailed("too-costly", "the FHIR server's answer is too large")
        except httpx.TimeoutException:
            raise FetchFailed("timeout", "the FHIR server did not answer in time") from None
        except httpx.HTTPError as error:
            raise _Retryable("transient", f"reading failed ({type(error).__name__})") from None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FetchFailed("invalid", "the FHIR server's answer is not JSON") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("resourceType"), str):
            raise FetchFailed("invalid", "the FHIR server's answer is not a FHIR resource")
        if parsed["resourceType"] == "OperationOutcome":
            raise FetchFailed("exception", "the FHIR server answered with an OperationOutcome")
        return parsed

    def _remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()


def _unresolved_reference(order: JsonObject, record: ResourceSet) -> bool:
    reference = text(obj(order.get("medicationReference")).get("reference"))
    if reference is None or reference.startswith("#"):
        return False
    return reference not in record.medications


def _entries(bundle: JsonObject) -> list[Any]:
    entries = bundle.get("entry", [])
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise FetchFailed("invalid", "a Bundle's entry is not a list")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise FetchFailed(
            "too-costly", f"the search returned more than {MAX_BUNDLE_ENTRIES} entries"
        )
    return list(entries)
