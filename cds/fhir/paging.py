"""Searchset paging: whether a Bundle is the whole answer, and where its next page is.

Since CDS Hooks 2.0 a client may prefetch only the first page of a search (digest §3), as
the sandbox and EHRs with large charts do. A page is not the chart: advice from it could
miss the heart failure or the gabapentin on page 3.
"""

from __future__ import annotations

from urllib.parse import urljoin

from fhir_mappings.json_access import JsonObject, number, objs, text

# Entries that are not matches of the search itself (`_include`d resources, warnings):
# a Bundle's `total` does not count them.
_NOT_MATCHES = frozenset({"include", "outcome"})


def next_link(bundle: JsonObject, base: str | None = None) -> str | None:
    for link in objs(bundle.get("link")):
        if link.get("relation") == "next" and (url := text(link.get("url"))):
            # FHIR wants absolute links; a relative one is read against the server's base.
            return urljoin(f"{base}/", url) if base else url
    return None


def matches(bundle: JsonObject) -> int:
    """Entries that are matches of the search: all but `include` and `outcome` ones."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return 0
    # Runs over every entry of every prefetched search on every call, hence the plain loop
    # (the json_access helpers cost 3x here; same reading of odd types).
    count = 0
    for entry in entries:
        if isinstance(entry, dict):
            search = entry.get("search")
            mode = search.get("mode") if isinstance(search, dict) else None
            if not (isinstance(mode, str) and mode in _NOT_MATCHES):
                count += 1
    return count


def is_partial(bundle: JsonObject) -> bool:
    """A searchset page with more to come: a `next` link, or a `total` above its matches."""
    if bundle.get("resourceType") != "Bundle":
        return False
    if next_link(bundle) is not None:
        return True
    total = number(bundle.get("total"))
    return total is not None and total > matches(bundle)
