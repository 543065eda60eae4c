"""The CDS Hooks 2.0 request shape (digest §2 and §6)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class OrderSignContext(PatientContext):
    draftOrders: Bundle


class OrderSelectContext(OrderSignContext):
    selections: list[str] = Field(min_length=1)
