"""ServiceRequest / DeviceRequest → does it splint or immobilise the residual limb?

No splint or immobilisation concept is verified in terminology.md, so the order's words are
read: its code text and displays, its body site and its notes.
"""

from __future__ import annotations

import re

from facts.orders import SplintOrder, SplintSite
from fhir_mappings.json_access import (
    JsonObject,
    concept_label,
    concept_words,
    obj,
    objs,
    reference_of,
    text,
)

_SPLINT = re.compile(r"\bsplint|\bimmobili[sz]")
_RESIDUAL_LIMB = re.compile(r"\bstump\b|\bresidual[\s-]+limb|\bamputation\b|\bamputated\b")


def splint_order(order: JsonObject) -> SplintOrder | None:
    """A splint/immobilisation order and where it goes, or None for any other order."""
    code = (
        order.get("code")
        if order.get("resourceType") == "ServiceRequest"
        else order.get("codeCodeableConcept")
    )
    words = " ".join(
        [
            concept_words(code),
            text(obj(order.get("codeReference")).get("display")) or "",
            " ".join(text(n.get("text")) or "" for n in objs(order.get("note"))),
        ]
    ).lower()
    if not _SPLINT.search(words):
        return None
    site_words = " ".join(concept_words(s) for s in objs(order.get("bodySite"))).lower()
    if _RESIDUAL_LIMB.search(words) or _RESIDUAL_LIMB.search(site_words):
        site = SplintSite.RESIDUAL_LIMB
    elif site_words.strip():
        site = SplintSite.ELSEWHERE
    else:
        site = SplintSite.NOT_STATED
    label = concept_label(code) or text(obj(order.get("codeReference")).get("display")) or "splint"
    return SplintOrder(reference_of(order), label, site)
