"""The patient's FHIR data for one hook call: prefetch first, the EHR's FHIR server for
what prefetch did not satisfy (digest §3)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from cds.api.errors import DataUnavailable
from cds.api.models import HookRequest
from cds.api.services import PREFETCH, REQUIRED_PREFETCH
from fhir_mappings.resources import ResourceSet, is_operation_outcome

# Fetches the given prefetch keys (key → relative FHIR query) from the EHR's FHIR server.
Fallback = Callable[[HookRequest, Mapping[str, str]], Awaitable[dict[str, Any]]]

# Adds to the record the Medications its orders reference but the data does not hold.
Resolver = Callable[[HookRequest, ResourceSet], Awaitable[None]]

_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


def render_query(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{{context.x}}` tokens; values are URL-quoted so they cannot add parameters."""
    return _TOKEN.sub(lambda m: quote(str(context.get(m.group(1), "")), safe=""), template)


def unsatisfied(request: HookRequest) -> dict[str, str]:
    """Required prefetch keys the EHR did not send, or sent as an OperationOutcome.

    A key sent as null is the EHR saying there is no data: it is satisfied.
    """
    given = request.prefetch or {}
    return {
        key: render_query(PREFETCH[key], request.context)
        for key in sorted(REQUIRED_PREFETCH)
        if key not in given or is_operation_outcome(given[key])
    }


async def gather(request: HookRequest, fallback: Fallback) -> dict[str, Any]:
    given = request.prefetch or {}
    values = {k: v for k, v in given.items() if k in PREFETCH and not is_operation_outcome(v)}
    missing = unsatisfied(request)
    if missing:
        values |= await fallback(request, missing)
    return values


async def prefetch_only(request: HookRequest, missing: Mapping[str, str]) -> dict[str, Any]:
    """The fallback when no FHIR server may be called: say which data is missing."""
    raise DataUnavailable(
        "Required prefetch data is missing or an OperationOutcome, and this service is "
        f"configured for prefetch only: {', '.join(missing)}",
        missing,
    )


async def no_resolution(request: HookRequest, record: ResourceSet) -> None:
    """The resolver when no FHIR server may be called: orders stay as the EHR sent them."""
