"""Bounds on what one hook request may ask the service to read.

The body size limit (cds.api.body_limit) bounds bytes, and orjson bounds nesting at 1024 levels
and refuses invalid UTF-8. Entry counts are bounded here because a body under the size limit
can still hold hundreds of thousands of tiny entries, and no chart needs that many.
"""

from __future__ import annotations

from typing import Any

from cds.api.errors import ServiceError
from cds.api.models import HookRequest


def check_entry_counts(request: HookRequest, most: int) -> None:
    """422 when the prefetch Bundles or draftOrders together hold more than `most` entries
    (CDS_MAX_BUNDLE_ENTRIES: generous for one chart, a bound on one request's work)."""
    bundles = [*(request.prefetch or {}).values(), request.context.get("draftOrders")]
    total = sum(_entry_count(value) for value in bundles)
    if total > most:
        raise ServiceError(
            422,
            "too-costly",
            f"the request holds {total} Bundle entries; at most {most} are read",
        )


def _entry_count(value: Any) -> int:
    if isinstance(value, dict) and isinstance(value.get("entry"), list):
        return len(value["entry"])
    return 0
