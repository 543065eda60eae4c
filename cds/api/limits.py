"""Bounds on what one hook request may ask the service to read.

The body size limit (cds.api.body_limit) bounds bytes, and orjson bounds nesting at 1024 levels
and refuses invalid UTF-8. Entry counts are bounded here because a body under the size limit
can still hold hundreds of thousands of tiny entries, and no chart needs that many.
"""

from __future__ import annotations

from typing import Any

from cds.api.errors import ServiceError
from cds.api.models import HookRequest

# Generous for one patient's Conditions and medication orders (a large chart holds a few
# hundred of each), and a bound on the work one request can ask for.
MAX_BUNDLE_ENTRIES = 5_000


def check_entry_counts(request: HookRequest) -> None:
    """422 when the prefetch Bundles or draftOrders together hold too many entries."""
    bundles = [*(request.prefetch or {}).values(), request.context.get("draftOrders")]
    total = sum(_entry_count(value) for value in bundles)
    if total > MAX_BUNDLE_ENTRIES:
        raise ServiceError(
            422,
            "too-costly",
            f"the request holds {total} Bundle entries; at most {MAX_BUNDLE_ENTRIES} are read",
        )


def _entry_count(value: Any) -> int:
    if isinstance(value, dict) and isinstance(value.get("entry"), list):
        return len(value["entry"])
    return 0
