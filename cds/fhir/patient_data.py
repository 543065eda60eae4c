"""The patient's FHIR data for one hook call: prefetch first, the EHR's FHIR server for
what prefetch did not satisfy (digest §3).

A required key that cannot be had is a 412. An optional key (allergies, pain scores) that
cannot be had leaves the hook answering without it, and says so: `PatientData.obtained`
is false for it, and the facts carry that it was not available.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from cds.api.errors import DataUnavailable
from cds.api.models import HookRequest
from cds.api.services import Need, PrefetchKey
from cds.fhir.paging import is_partial, matches
from fhir_mappings.json_access import JsonObject
from fhir_mappings.resources import ResourceSet, is_operation_outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unsatisfied:
    """A prefetch key still to be had: its FHIR query (relative to the server's base) and,
    when the EHR prefetched only part of a paged search, the page it sent. `newest` bounds
    a search sorted newest first: only that many matches are read."""

    query: str
    first_page: JsonObject | None = None
    newest: int | None = None

    @property
    def why(self) -> str:
        if self.first_page is not None:
            return "paged: the EHR sent only part of the search, which is not the whole chart"
        return "not sent, or sent as an OperationOutcome"


class Fallback(Protocol):
    """Fetches prefetch keys from the EHR's FHIR server."""

    def unusable(self, request: HookRequest) -> str | None:
        """Why no FHIR server can be asked for `request`'s data, or None when one can:
        optional keys are then given up at once, without starting a fetch."""

    async def __call__(
        self, request: HookRequest, missing: Mapping[str, Unsatisfied]
    ) -> dict[str, Any]:
        """The values of the `missing` keys; `DataUnavailable` when they cannot be had."""


# Adds to the record the Medications its orders reference but the data does not hold; says
# why, when it could not (None: nothing was left to fetch).
Resolver = Callable[[HookRequest, ResourceSet], Awaitable[str | None]]

_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


def render_query(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{{context.x}}` tokens; values are URL-quoted so they cannot add parameters."""
    return _TOKEN.sub(lambda m: quote(str(context.get(m.group(1), "")), safe=""), template)


def unsatisfied(request: HookRequest, keys: Sequence[PrefetchKey]) -> dict[str, Unsatisfied]:
    """The keys to fetch: not sent, sent as an OperationOutcome, or sent as one page of a
    longer search. A bounded search (`newest`) is satisfied by a page that holds enough.

    A key sent as null is the EHR saying there is no data: it is satisfied.
    """
    given = request.prefetch or {}
    missing: dict[str, Unsatisfied] = {}
    for key in sorted(keys, key=lambda k: k.name):
        if key.need is Need.NOT_FETCHED:
            continue
        value = given.get(key.name)
        if key.name not in given or is_operation_outcome(value):
            query = render_query(key.template, request.context)
            missing[key.name] = Unsatisfied(query, newest=key.newest)
        elif isinstance(value, dict) and is_partial(value):
            if key.newest is not None and matches(value) >= key.newest:
                continue  # the newest ones are all on the page sent
            query = render_query(key.template, request.context)
            missing[key.name] = Unsatisfied(query, first_page=value, newest=key.newest)
    return missing


def describe(missing: Mapping[str, Unsatisfied]) -> str:
    return "; ".join(f"{key} ({unsatisfied.why})" for key, unsatisfied in missing.items())


@dataclass(frozen=True, slots=True)
class PatientData:
    """The values of a hook call's prefetch keys, from the EHR's prefetch or its server.

    A key in `values` was obtained (its value may be null: no data). An optional key that
    could not be obtained is absent from `values` and named in `unavailable`, with why."""

    values: dict[str, Any]
    unavailable: dict[str, str]

    def obtained(self, key: str) -> bool:
        return key in self.values


async def gather(
    request: HookRequest, keys: Sequence[PrefetchKey], fallback: Fallback
) -> PatientData:
    names = {key.name for key in keys}
    values = {
        k: v
        for k, v in (request.prefetch or {}).items()
        if k in names and not is_operation_outcome(v)
    }
    missing = unsatisfied(request, keys)
    if not missing:
        return PatientData(values, {})
    for key in missing:
        # A partial page is replaced or dropped: no advice is ever given from part of a search.
        values.pop(key, None)
    need = {key.name: key.need for key in keys}
    required = {k: u for k, u in missing.items() if need[k] is Need.REQUIRED}
    optional = {k: u for k, u in missing.items() if k not in required}
    unavailable: dict[str, str] = {}
    if optional and (why := fallback.unusable(request)) is not None:
        unavailable = dict.fromkeys(optional, why)
        optional = {}

    async def fetch_required() -> None:
        values.update(await fallback(request, required))

    async def fetch_optional(key: str, wanted: Unsatisfied) -> None:
        try:
            values.update(await fallback(request, {key: wanted}))
        except DataUnavailable as error:
            unavailable[key] = error.message

    fetches = [fetch_required()] if required else []
    fetches.extend(fetch_optional(k, u) for k, u in optional.items())
    if len(fetches) == 1:
        await fetches[0]
    else:
        # Side by side, under the fallback's one deadline each; a required key that cannot
        # be had ends the call (a 412) and the optional fetches with it.
        try:
            async with asyncio.TaskGroup() as group:
                for fetch in fetches:
                    group.create_task(fetch)
        except* DataUnavailable as failed:
            raise failed.exceptions[0] from None
    if unavailable and log.isEnabledFor(logging.INFO):
        log.info(
            "optional data not available: %s",
            "; ".join(f"{key}: {why}" for key, why in unavailable.items()),
        )
    return PatientData(values, unavailable)


class PrefetchOnly:
    """The fallback when no FHIR server may be called: say which data is missing."""

    def unusable(self, request: HookRequest) -> str | None:
        return "this service is configured for prefetch only (CDS_PREFETCH_RESOLUTION=none)"

    async def __call__(
        self, request: HookRequest, missing: Mapping[str, Unsatisfied]
    ) -> dict[str, Any]:
        raise DataUnavailable(
            "Required prefetch data is missing or incomplete, and this service is configured "
            f"for prefetch only (CDS_PREFETCH_RESOLUTION=none): {describe(missing)}",
            missing,
        )


prefetch_only = PrefetchOnly()


async def no_resolution(request: HookRequest, record: ResourceSet) -> str | None:
    """The resolver when no FHIR server may be called: orders stay as the EHR sent them."""
    return "this service is configured for prefetch only (CDS_PREFETCH_RESOLUTION=none)"


@dataclass(frozen=True, slots=True)
class PatientDataSource:
    """Where a hook call's data comes from beyond its prefetch."""

    fallback: Fallback = prefetch_only
    resolve: Resolver = no_resolution


PREFETCH_ONLY = PatientDataSource()
