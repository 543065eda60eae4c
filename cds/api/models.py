"""The CDS Hooks 2.0 request shape (digest §2 and §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

_ID = Field(min_length=1, max_length=256)


class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: str = Field(min_length=1, repr=False)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    hook: str = _ID
    hookInstance: str = _ID
    fhirServer: str | None = Field(default=None, max_length=2048)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class PatientContext(BaseModel):
    """patient-view context; the order hooks add their own fields below."""

    model_config = ConfigDict(extra="allow")

    patientId: str = _ID
    userId: str | None = Field(default=None, max_length=256)
    encounterId: str | None = Field(default=None, max_length=256)


class Bundle(BaseModel):
    model_config = ConfigDict(extra="allow")

    resourceType: str
    entry: list[Any] | None = None

    @field_validator("resourceType")
    @classmethod
    def _is_bundle(cls, value: str) -> str:
        if value != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        return value

    def as_json(self) -> dict[str, Any]:
        """The entries as FHIR JSON, for `fhir_mappings`, which reads FHIR and not models."""
        return {"resourceType": "Bundle", "entry": self.entry or []}


class OrderSignContext(PatientContext):
    draftOrders: Bundle


class OrderSelectContext(OrderSignContext):
    selections: list[str] = Field(min_length=1)

    @field_validator("selections")
    @classmethod
    def _name_draft_orders(cls, selections: list[str], info: ValidationInfo) -> list[str]:
        """Each selection as the `Type/id` of the draft it names. EHRs send `Type/id` (as the
        spec shows) or the bare id; a selection that names no draft is refused, since the
        order it meant would otherwise go unchecked."""
        drafts: Bundle | None = info.data.get("draftOrders")
        if drafts is None:
            return selections
        references = [
            f"{resource['resourceType']}/{resource['id']}"
            for entry in drafts.entry or ()
            if isinstance(entry, dict)
            and isinstance(resource := entry.get("resource"), dict)
            and isinstance(resource.get("resourceType"), str)
            and isinstance(resource.get("id"), str)
        ]
        # Each draft under both of its names, so matching is one lookup per selection.
        by_name: dict[str, list[str]] = {}
        for reference in references:
            by_name.setdefault(reference, []).append(reference)
            bare = reference.partition("/")[2]
            if bare != reference:
                by_name.setdefault(bare, []).append(reference)
        named: list[str] = []
        unmatched: list[str] = []
        for selection in selections:
            matching = by_name.get(selection, [])
            named.extend(matching)
            if not matching:
                unmatched.append(selection)
        if unmatched:
            raise ValueError(
                f"{', '.join(unmatched)} match no draft order in context.draftOrders "
                "(expected Type/id or the bare id of a draft)"
            )
        return list(dict.fromkeys(named))
