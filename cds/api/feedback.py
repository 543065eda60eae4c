"""The feedback endpoint (CDS Hooks 2.0, digest §5): what clinicians did with our cards."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cds.api.dependencies import SettingsDep, StoreDep
from cds.api.errors import ServiceError, invalid_fields, validation_failed
from cds.api.responses import JsonResponse
from cds.api.routes import find_service, parse_json_object
from cds.ops.metrics import FEEDBACK
from cds.storage.database import StorageConflict, StorageUnavailable
from cds.storage.deadline import within
from cds.storage.records import FeedbackRecord, OverrideReason
from cds.storage.store import Store

log = logging.getLogger("cds.api.feedback")

router = APIRouter()

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_ID = Field(min_length=1, max_length=256)


class _Entry(BaseModel):
    # Later versions of the spec may add fields; they are ignored, not refused.
    model_config = ConfigDict(extra="ignore")


class AcceptedSuggestion(_Entry):
    id: str = _ID


class ReasonCoding(_Entry):
    system: str = Field(min_length=1, max_length=512)
    code: str = _ID
    display: str | None = Field(default=None, max_length=512)


class OverrideReasonIn(_Entry):
    reason: ReasonCoding | None = None
    userComment: str | None = Field(default=None, max_length=4000)


class FeedbackEntry(_Entry):
    card: str = _ID
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = Field(
        default=None, max_length=100, validate_default=True
    )
    overrideReason: OverrideReasonIn | None = Field(default=None, validate_default=True)
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _rfc3339_utc(cls, value: object) -> datetime:
        # pydantic alone would take dates, epoch numbers and local times.
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise ValueError("must be an RFC 3339 date-time, e.g. 2021-12-11T10:05:31Z")
        # RFC 3339 allows lower-case t and z; fromisoformat does not.
        parsed = datetime.fromisoformat(value.upper())
        if parsed.utcoffset() != timedelta(0):
            raise ValueError("must be in UTC (Z or +00:00)")
        return parsed

    @field_validator("acceptedSuggestions")
    @classmethod
    def _required_when_accepted(
        cls, value: list[AcceptedSuggestion] | None, info: ValidationInfo
    ) -> list[AcceptedSuggestion] | None:
        outcome = info.data.get("outcome")
        if outcome == "accepted" and not value:
            raise ValueError("required when outcome is 'accepted'")
        if outcome == "overridden" and value:
            raise ValueError("only allowed when outcome is 'accepted'")
        return value

    @field_validator("overrideReason")
    @classmethod
    def _only_when_overridden(
        cls, value: OverrideReasonIn | None, info: ValidationInfo
    ) -> OverrideReasonIn | None:
        if value is not None and info.data.get("outcome") == "accepted":
            raise ValueError("only allowed when outcome is 'overridden'")
        return value

    def record(self, service_id: str) -> FeedbackRecord:
        override = self.overrideReason
        coding = override.reason if override else None
        return FeedbackRecord(
            card_uuid=self.card,
            service_id=service_id,
            outcome=self.outcome,
            outcome_timestamp=self.outcomeTimestamp,
            accepted_suggestions=tuple(s.id for s in self.acceptedSuggestions or ()),
            reason=OverrideReason(coding.system, coding.code, coding.display) if coding else None,
            user_comment=override.userComment if override else None,
        )


class FeedbackRequest(_Entry):
    feedback: list[FeedbackEntry] = Field(min_length=1, max_length=1000)


def parse_feedback(body: bytes) -> FeedbackRequest:
    try:
        return FeedbackRequest.model_validate(parse_json_object(body))
    except ValidationError as error:
        raise validation_failed(error) from None


async def refuse_other_services_cards(
    store: Store, service_id: str, records: list[FeedbackRecord]
) -> None:
    """Feedback belongs to the service whose card it is: stored under another service it
    would be counted against the wrong rule. Cards not (yet) on record are taken."""
    issued_by = await store.services_of(r.card_uuid for r in records)
    foreign = [
        (
            f"feedback[{i}].card",
            f"card {r.card_uuid} was issued by the service "
            f"'{issued_by[r.card_uuid]}'; send its feedback to "
            f"/cds-services/{issued_by[r.card_uuid]}/feedback",
        )
        for i, r in enumerate(records)
        if issued_by.get(r.card_uuid, service_id) != service_id
    ]
    if foreign:
        raise invalid_fields(foreign)


async def store_feedback(
    store: Store, service_id: str, records: list[FeedbackRecord]
) -> list[FeedbackRecord]:
    await refuse_other_services_cards(store, service_id, records)
    return await store.save_feedback(records)


@router.post("/cds-services/{service_id}/feedback")
async def receive_feedback(
    service_id: str, request: Request, store: StoreDep, settings: SettingsDep
) -> JsonResponse:
    service = find_service(service_id)
    reports = parse_feedback(await request.body())
    records = [entry.record(service.id) for entry in reports.feedback]
    try:
        if store is None:
            raise StorageUnavailable("storage not opened")
        # One deadline for the whole request: a hung database is a 503 within it.
        stored = await within(
            settings.cds_db_timeout_s, store_feedback(store, service.id, records), "feedback"
        )
    except StorageConflict as error:
        log.warning("feedback not stored: deadlocked twice", extra={"error": str(error)})
        raise ServiceError(
            409,
            "conflict",
            "feedback conflicted twice with concurrent reports about the same cards and was "
            "not stored; send it again",
        ) from None
    except StorageUnavailable as error:
        log.error("feedback not stored: database unavailable", extra={"error": str(error)})
        raise ServiceError(
            503, "transient", "feedback could not be stored now; send it again later"
        ) from None
    for record in stored:
        FEEDBACK.labels(outcome=record.outcome).inc()
    log.info("feedback received", extra={"service": service.id, "stored": len(stored)})
    return JsonResponse({})
