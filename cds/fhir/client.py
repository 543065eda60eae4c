"""The FHIR server fallback: fetch what prefetch did not satisfy from the EHR (digest §3).

Only servers on CDS_FHIR_ALLOWLIST are contacted; redirects are never followed; the access
token goes into the Authorization header and nowhere else (no logs, no error text). One
hook call's fetches share one deadline (`cds_fhir_timeout_s`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from cds.api.errors import DataUnavailable, operation_outcome
from cds.api.models import HookRequest
from cds.fhir.paging import matches, next_link
from cds.fhir.patient_data import Unsatisfied, describe
from cds.fhir.pool import HostSlots, PoolLimits
from cds.fhir.references import medication_to_fetch
from cds.fhir.transport import Failure, FetchFailed, FhirTransport
from cds.security.allowlist import is_allowed
from cds.security.bearer import is_bearer_token
from cds.settings import Settings
from fhir_mappings.json_access import JsonObject, number, obj, objs
from fhir_mappings.resources import ResourceSet, collect

log = logging.getLogger(__name__)


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
class SearchLimits:
    max_pages: int
    max_entries: int
    max_medication_lookups: int


@dataclass(frozen=True, slots=True)
class FhirServerFallback:
    """A `cds.fhir.patient_data.Fallback` that queries the EHR's FHIR server."""

    transport: FhirTransport
    allowlist: tuple[str, ...]
    timeout_s: float
    limits: SearchLimits

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, settings: Settings) -> FhirServerFallback:
        return cls(
            transport=FhirTransport(
                http=http,
                timeout_s=settings.cds_fhir_timeout_s,
                retries=settings.cds_fhir_retries,
                backoff_s=settings.cds_fhir_backoff_s,
                max_response_bytes=settings.cds_fhir_max_response_bytes,
                pool=HostSlots(PoolLimits.from_settings(settings)),
            ),
            allowlist=settings.fhir_allowlist,
            timeout_s=settings.cds_fhir_timeout_s,
            limits=SearchLimits(
                max_pages=settings.cds_fhir_max_pages,
                max_entries=settings.cds_max_bundle_entries,
                max_medication_lookups=settings.cds_fhir_max_medication_lookups,
            ),
        )

    async def __call__(
        self, request: HookRequest, missing: Mapping[str, Unsatisfied]
    ) -> dict[str, Any]:
        session = self._session(request, missing)
        log.info("FHIR fallback: fetching %s from %s", ", ".join(missing), session.base)
        results: dict[str, Any] = {}
        failures: dict[str, KeyFailure] = {}

        async def fetch(key: str, wanted: Unsatisfied) -> None:
            try:
                results[key] = await session.fetch_key(wanted)
            except FetchFailed as failure:
                failures[key] = KeyFailure(key, failure.kind.issue_code, failure.reason)

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
            raise FhirDataUnavailable(session.base, ordered)
        return results

    async def resolve_references(self, request: HookRequest, record: ResourceSet) -> str | None:
        """Fetch the Medications that `record`'s orders reference but the data does not hold.
        None when nothing was left to fetch; else why the fetch could not be done, for the
        caller to name beside any order whose drug stays unknown."""
        base = (request.fhirServer or "").rstrip("/")
        orders = record.orders_by_reference()
        if not any(medication_to_fetch(o, record.medications, base) for o in orders):
            return None
        why = self.unusable(request)
        if why is not None:
            log.warning("medication references left unresolved: no usable FHIR server")
            return why
        session = self._session(request, {"medications": Unsatisfied("")})
        bundle: JsonObject = {
            "resourceType": "Bundle",
            "entry": [{"resource": order} for order in orders],
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                await session.resolve_medications(bundle)
        except FetchFailed as error:
            log.warning("medication references left unresolved: %s", error.reason)
            return error.reason
        except TimeoutError:
            log.warning("medication references left unresolved: timeout")
            return f"no answer from the FHIR server within {self.timeout_s:g} s"
        for entry in bundle["entry"]:
            if entry["resource"].get("resourceType") == "Medication":
                record.add(entry["resource"], entry.get("fullUrl"))
        return None

    def unusable(self, request: HookRequest) -> str | None:
        server = request.fhirServer
        if not server:
            return "The request names no fhirServer."
        if not is_allowed(server, self.allowlist, query=False):
            return (
                f"The FHIR server {server} is not on this service's allowlist; "
                "it was not contacted."
            )
        if request.fhirAuthorization is None:
            return "The request has no fhirAuthorization access token for the FHIR server."
        if not is_bearer_token(request.fhirAuthorization.access_token):
            return (
                "The fhirAuthorization access_token is not a bearer token (RFC 6750: ASCII "
                "letters, digits and -._~+/ only); the FHIR server was not contacted."
            )
        return None

    def _session(self, request: HookRequest, missing: Mapping[str, Unsatisfied]) -> _Session:
        why = self.unusable(request)
        server, authorization = request.fhirServer, request.fhirAuthorization
        if why is not None or not server or authorization is None:
            needed = f"Required prefetch data is missing or incomplete: {describe(missing)}."
            raise DataUnavailable(f"{needed} {why}", missing)
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        return _Session(self, server.rstrip("/"), authorization.access_token, deadline, request)


@dataclass(slots=True)
class _Session:
    """The fetches of one hook call: one server, one token, one deadline."""

    fallback: FhirServerFallback
    base: str
    token: str = field(repr=False)
    deadline: float
    request: HookRequest

    async def get_json(self, url: str) -> JsonObject:
        return await self.fallback.transport.get_json(url, self.token, self.deadline)

    async def fetch_key(self, wanted: Unsatisfied) -> Any:
        limits = self.fallback.limits
        first = wanted.first_page
        if first is None or next_link(first) is None:
            # A prefetched page with a `total` but no link to the rest: search again.
            first = await self.get_json(f"{self.base}/{wanted.query.lstrip('/')}")
        if first.get("resourceType") != "Bundle":
            if "?" in wanted.query:
                # A search answers with a Bundle; anything else would read as an empty chart.
                raise FetchFailed(
                    Failure.INVALID, f"the search answered with a {first['resourceType']}"
                )
            return first
        entries = self._entries(first)
        found = matches(first)
        page, pages = first, 1
        while (next_url := next_link(page, self.base)) is not None:
            if wanted.newest is not None and found >= wanted.newest:
                break  # a search sorted newest first: the rest is older than what is needed
            if pages >= limits.max_pages:
                raise FetchFailed(
                    Failure.TOO_COSTLY,
                    f"the search has more than {limits.max_pages} pages "
                    "(CDS_FHIR_MAX_PAGES); partial data could give wrong advice",
                )
            # Within the allowlist and under this server's base: same origin and path prefix.
            if not (
                is_allowed(next_url, self.fallback.allowlist) and is_allowed(next_url, (self.base,))
            ):
                raise FetchFailed(
                    Failure.REFUSED, "a Bundle next link points outside the allowed FHIR server"
                )
            page = await self.get_json(next_url)
            if page.get("resourceType") != "Bundle":
                raise FetchFailed(Failure.INVALID, "a next page is not a Bundle")
            entries.extend(self._entries(page))
            found += matches(page)
            pages += 1
            if len(entries) > limits.max_entries:
                raise FetchFailed(
                    Failure.TOO_COSTLY,
                    f"the search returned more than {limits.max_entries} entries",
                )
        bundle: JsonObject = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
        total = number(first.get("total"))
        enough = wanted.newest is not None and found >= wanted.newest
        if total is not None and total > found and not enough:
            raise FetchFailed(
                Failure.INCOMPLETE,
                f"the server counts {total:g} results but its pages hold {found}; "
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
                if (
                    medication_id := medication_to_fetch(
                        obj(entry.get("resource")), known, self.base
                    )
                )
            }
        )
        if not wanted:
            return
        most = self.fallback.limits.max_medication_lookups
        if len(wanted) > most:
            raise FetchFailed(Failure.TOO_COSTLY, f"more than {most} Medications to look up")
        found: dict[str, JsonObject] = {}

        async def lookup(medication_id: str) -> None:
            try:
                medication = await self.get_json(f"{self.base}/Medication/{medication_id}")
            except FetchFailed as failure:
                raise FetchFailed(
                    failure.kind, f"Medication/{medication_id}: {failure.reason}"
                ) from None
            if medication.get("resourceType") != "Medication":
                raise FetchFailed(
                    Failure.INVALID, f"Medication/{medication_id} is not a Medication"
                )
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

    def _entries(self, bundle: JsonObject) -> list[Any]:
        entries = bundle.get("entry", [])
        if entries is None:
            return []
        if not isinstance(entries, list):
            raise FetchFailed(Failure.INVALID, "a Bundle's entry is not a list")
        most = self.fallback.limits.max_entries
        if len(entries) > most:
            raise FetchFailed(Failure.TOO_COSTLY, f"the search returned more than {most} entries")
        return list(entries)
