"""The CDS Hooks 2.0 response shape (digest §4). Optional fields default to None and are
left out when the response is written, so no empty or null field ever leaves the service."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cards.uuids import random_uuid


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Coding(_Wire):
    system: str
    code: str
    display: str | None = None


class Source(_Wire):
    label: str
    url: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Wire):
    label: str
    uuid: str = Field(default_factory=random_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Wire):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Indicator(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Card(_Wire):
    uuid: str = Field(default_factory=random_uuid)
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None

    @field_validator("suggestions", "overrideReasons", "links")
    @classmethod
    def _no_empty_lists(cls, value: list[Any] | None) -> list[Any] | None:
        return value or None


class CdsResponse(_Wire):
    cards: list[Card]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
