"""The patient's FHIR data for one hook call: prefetch first, the EHR's FHIR server for
what prefetch did not satisfy (digest §3)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cds.api.errors import DataUnavailable
from cds.api.models import HookRequest
from cds.api.services import PREFETCH, REQUIRED_PREFETCH
from cds.fhir.paging import is_partial
from fhir_mappings.json_access import JsonObject
from fhir_mappings.resources import ResourceSet, is_operation_outcome


@dataclass(frozen=True, slots=True)
class Unsatisfied:
    """A required prefetch key still to be had: its FHIR query (relative to the server's
    base) and, when the EHR prefetched only part of a paged search, the page it sent."""

    query: str
    first_page: JsonObject | None = None

    @property
    def why(self) -> str:
        if self.first_page is not None:
            return "paged: the EHR sent only part of the search, which is not the whole chart"
        return "not sent, or sent as an OperationOutcome"


# Fetches the given prefetch keys from the EHR's FHIR server.
Fallback = Callable[[HookRequest, Mapping[str, Unsatisfied]], Awaitable[dict[str, Any]]]

# Adds to the record the Medications its orders reference but the data does not hold.
Resolver = Callable[[HookRequest, ResourceSet], Awaitable[None]]

_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


def render_query(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{{context.x}}` tokens; values are URL-quoted so they cannot add parameters."""
    return _TOKEN.sub(lambda m: quote(str(context.get(m.group(1), "")), safe=""), template)


def unsatisfied(request: HookRequest) -> dict[str, Unsatisfied]:
    """Required prefetch keys the EHR did not send, sent as an OperationOutcome, or sent as
    one page of a longer search.

    A key sent as null is the EHR saying there is no data: it is satisfied.
    """
    given = request.prefetch or {}
    missing: dict[str, Unsatisfied] = {}
    for key in sorted(REQUIRED_PREFETCH):
        query = render_query(PREFETCH[key], request.context)
        value = given.get(key)
        if key not in given or is_operation_outcome(value):
            missing[key] = Unsatisfied(query)
        elif isinstance(value, dict) and is_partial(value):
            missing[key] = Unsatisfied(query, first_page=value)
    return missing


def describe(missing: Mapping[str, Unsatisfied]) -> str:
    return "; ".join(f"{key} ({unsatisfied.why})" for key, unsatisfied in missing.items())


async def gather(request: HookRequest, fallback: Fallback) -> dict[str, Any]:
    given = request.prefetch or {}
    values = {k: v for k, v in given.items() if k in PREFETCH and not is_operation_outcome(v)}
    missing = unsatisfied(request)
    if missing:
        # Replaces a partial page too: no advice is ever given from part of a search.
        values |= await fallback(request, missing)
    return values


async def prefetch_only(request: HookRequest, missing: Mapping[str, Unsatisfied]) -> dict[str, Any]:
    """The fallback when no FHIR server may be called: say which data is missing."""
    raise DataUnavailable(
        "Required prefetch data is missing or incomplete, and this service is configured "
        f"for prefetch only (CDS_PREFETCH_RESOLUTION=none): {describe(missing)}",
        missing,
    )


async def no_resolution(request: HookRequest, record: ResourceSet) -> None:
    """The resolver when no FHIR server may be called: orders stay as the EHR sent them."""


@dataclass(frozen=True, slots=True)
class PatientDataSource:
    """Where a hook call's data comes from beyond its prefetch."""

    fallback: Fallback = prefetch_only
    resolve: Resolver = no_resolution


PREFETCH_ONLY = PatientDataSource()
