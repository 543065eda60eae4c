"""ServiceRequest / DeviceRequest → does it splint or immobilise the residual limb?

No splint or immobilisation concept is verified in terminology.md, so the order's words are
read (`fhir_mappings/data/orders.csv`): its code text and displays, its body site and its
notes. A prosthesis, a shrinker, compression and a rigid (removable) dressing are standard care
after amputation, not splinting (GUIDELINE §4).
"""

from __future__ import annotations

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
from fhir_mappings.terminology import RESIDUAL_LIMB, SPLINT, Terminology, builtin


def splint_order(order: JsonObject, terminology: Terminology | None = None) -> SplintOrder | None:
    """A splint/immobilisation order and where it goes, or None for any other order."""
    terminology = terminology or builtin()
    code = (
        order.get("code")
        if order.get("resourceType") == "ServiceRequest"
        else order.get("codeCodeableConcept")
    )
    words = " ; ".join(
        w
        for w in [
            concept_words(code),
            text(obj(order.get("codeReference")).get("display")),
            *(text(n.get("text")) for n in objs(order.get("note"))),
        ]
        if w
    )
    said = terminology.order_text.find(words)
    if SPLINT not in said:
        return None
    site_words = " ; ".join(concept_words(s) for s in objs(order.get("bodySite")))
    if RESIDUAL_LIMB in said or RESIDUAL_LIMB in terminology.order_text.find(site_words):
        site = SplintSite.RESIDUAL_LIMB
    elif site_words.strip():
        site = SplintSite.ELSEWHERE
    else:
        site = SplintSite.NOT_STATED
    label = concept_label(code) or text(obj(order.get("codeReference")).get("display")) or "splint"
    return SplintOrder(reference_of(order), label, site)
