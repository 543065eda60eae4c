"""What each suggested therapy becomes when a clinician accepts it: a draft FHIR R4 resource.

The codes are data (`suggestions.json`, one row per therapy with its source and how far it
was verified). They are read once, checked, turned into resource templates and each
template validated with `fhir.resources` (R4B) at start-up, so every resource a suggestion
carries is valid by construction and a request pays only for a copy of its template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import orjson
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from guideline.therapies import Therapy

DATA = Path(__file__).with_name("suggestions.json")
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
_MODELS: dict[str, type[MedicationRequest] | type[ServiceRequest]] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
}


class CatalogError(ValueError):
    """The suggestion catalogue is malformed: the message names the file and the row."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    therapy: Therapy
    label: str
    resource: Literal["MedicationRequest", "ServiceRequest"]
    system: (
        Literal["http://www.nlm.nih.gov/research/umls/rxnorm", "http://snomed.info/sct"] | None
    ) = None
    code: str | None = None
    # Sent as Coding.display only where verified: a "partial" row sends its code alone.
    display: str | None = None
    text: str | None = None
    form: str | None = None
    ingredients: tuple[dict[str, str], ...] = ()
    directions: str | None = None
    source: str
    verified: Literal["yes", "partial"]

    @model_validator(mode="after")
    def _coded_or_compounded(self) -> _Row:
        if (self.system is None) != (self.code is None):
            raise ValueError("system and code go together")
        if self.code is None and not self.ingredients:
            raise ValueError("a row needs a code, or ingredients for a compound")
        if self.verified == "partial" and self.display is not None:
            raise ValueError("a partially verified row must not send a display")
        if (self.display or self.text) is None:
            raise ValueError("a row needs a display or a text")
        if self.resource == "ServiceRequest" and self.system != SNOMED:
            raise ValueError("a ServiceRequest is coded in SNOMED CT")
        return self


@dataclass(frozen=True, slots=True)
class Template:
    therapy: Therapy
    label: str
    # The resource without subject and reason, serialised: immutable, and a request gets a
    # fresh copy with one parse.
    body: bytes

    def resource(self, patient_id: str, reason: str | None) -> dict[str, Any]:
        resource: dict[str, Any] = orjson.loads(self.body)
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
        if reason:
            resource["reasonReference"] = [{"reference": reason}]
        return resource


@dataclass(frozen=True, slots=True)
class Catalog:
    templates: Mapping[Therapy, Template]

    def label(self, therapy: Therapy) -> str:
        return self.templates[therapy].label

    def resource(self, therapy: Therapy, patient_id: str, reason: str | None) -> dict[str, Any]:
        """The draft resource for a therapy, ready for a `create` action."""
        return self.templates[therapy].resource(patient_id, reason)


def _body(row: _Row) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": row.resource, "status": "draft", "intent": "order"}
    concept: dict[str, Any] = {}
    if row.code is not None:
        coding = {"system": row.system, "code": row.code}
        if row.display is not None:
            coding["display"] = row.display
        concept["coding"] = [coding]
    concept["text"] = row.text or row.display
    if row.resource == "ServiceRequest":
        body["code"] = concept
    elif row.ingredients:
        body["contained"] = [
            {
                "resourceType": "Medication",
                "id": "compound",
                "code": concept,
                **({"form": {"text": row.form}} if row.form else {}),
                "ingredient": [{"itemCodeableConcept": _ingredient(i)} for i in row.ingredients],
            }
        ]
        body["medicationReference"] = {"reference": "#compound"}
    else:
        body["medicationCodeableConcept"] = concept
    if row.directions:
        body["dosageInstruction"] = [{"text": row.directions}]
    return body


def _ingredient(item: Mapping[str, str]) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if "code" in item:
        concept["coding"] = [
            {"system": item["system"], "code": item["code"], "display": item["display"]}
        ]
    concept["text"] = item["text"]
    return concept


def load(path: Path = DATA) -> Catalog:
    """Read, check and validate the catalogue; any fault stops with one line naming it."""
    try:
        rows = orjson.loads(path.read_bytes())["rows"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise CatalogError(f"{path.name}: not a readable catalogue ({error})") from None
    templates: dict[Therapy, Template] = {}
    for number, raw in enumerate(rows, start=1):
        where = f"{path.name} row {number}"
        try:
            row = _Row.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            raise CatalogError(f"{where}: {field}: {first['msg']}") from None
        if row.therapy in templates:
            raise CatalogError(f"{where}: {row.therapy} appears twice")
        body = _body(row)
        example = {**body, "subject": {"reference": "Patient/example"}}
        example["reasonReference"] = [{"reference": "Condition/example"}]
        try:
            _MODELS[row.resource].model_validate(example)
        except ValidationError as error:
            raise CatalogError(f"{where}: not a valid FHIR R4B {row.resource}: {error}") from None
        templates[row.therapy] = Template(row.therapy, row.label, orjson.dumps(body))
    missing = [t.value for t in Therapy if t not in templates]
    if missing:
        raise CatalogError(f"{path.name}: no row for {', '.join(missing)}")
    return Catalog(MappingProxyType(templates))


@cache
def catalog() -> Catalog:
    """The shipped catalogue, loaded once per process (the app factory loads it at start)."""
    return load()
