"""Searchset paging: whether a Bundle is the whole answer, and where its next page is.

Since CDS Hooks 2.0 a client may prefetch only the first page of a search (digest §3), as
the sandbox and EHRs with large charts do. A page is not the chart: advice from it could
miss the heart failure or the gabapentin on page 3.
"""

from __future__ import annotations

from urllib.parse import urljoin

from fhir_mappings.json_access import JsonObject, number, obj, objs, text

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
    return sum(
        1
        for entry in objs(bundle.get("entry"))
        if text(obj(entry.get("search")).get("mode")) not in _NOT_MATCHES
    )


def is_partial(bundle: JsonObject) -> bool:
    """A searchset page with more to come: a `next` link, or a `total` above its matches."""
    if bundle.get("resourceType") != "Bundle":
        return False
    total = number(bundle.get("total"))
    return next_link(bundle) is not None or (total is not None and total > matches(bundle))
