"""Defensive readers for FHIR JSON: a wrong type reads as absent instead of raising.

EHR data is read straight from parsed JSON (validating whole bundles with full models costs
100x the parse), so every access goes through these helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

JsonObject = dict[str, Any]


def obj(value: Any) -> JsonObject:
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> Iterator[JsonObject]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """(system, code) pairs of a CodeableConcept."""
    for coding in objs(obj(concept).get("coding")):
        system, code = text(coding.get("system")), text(coding.get("code"))
        if system and code:
            yield system, code.strip()


def concept_words(concept: Any) -> str:
    """All human-readable text of a CodeableConcept: its text and its codings' displays."""
    concept = obj(concept)
    parts = [text(concept.get("text"))]
    parts.extend(text(c.get("display")) for c in objs(concept.get("coding")))
    return " ".join(p for p in parts if p)


def concept_label(concept: Any) -> str | None:
    concept = obj(concept)
    label = text(concept.get("text"))
    if label:
        return label
    for coding in objs(concept.get("coding")):
        display = text(coding.get("display"))
        if display:
            return display
    for _, code in codings(concept):
        return f"code {code}"
    return None


def status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept (Condition.clinicalStatus and the like)."""
    for _, code in codings(concept):
        return code
    return None


def reference_of(resource: JsonObject) -> str:
    resource_type = text(resource.get("resourceType")) or "Resource"
    resource_id = text(resource.get("id"))
    return f"{resource_type}/{resource_id}" if resource_id else resource_type
