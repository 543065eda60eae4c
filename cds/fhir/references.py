"""Which Medication an order points at that the data in hand does not hold."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fhir_mappings.json_access import JsonObject, obj, text

_ORDERS = frozenset({"MedicationRequest", "MedicationStatement"})
_MEDICATION = re.compile(r"Medication/([A-Za-z0-9\-.]{1,64})")


def medication_to_fetch(order: JsonObject, known: Mapping[str, Any], base: str) -> str | None:
    """The id of the Medication `order` references on the FHIR server at `base`, when the
    data (`known`, by reference and by full URL) does not hold it. Contained (`#…`) and
    other servers' Medications are never fetched: such an order stays unidentified."""
    if order.get("resourceType") not in _ORDERS:
        return None
    reference = text(obj(order.get("medicationReference")).get("reference"))
    if not reference or reference.startswith("#") or reference in known:
        return None
    reference = reference.removeprefix(f"{base}/")
    if reference in known:
        return None
    match = _MEDICATION.fullmatch(reference)
    return match.group(1) if match else None
