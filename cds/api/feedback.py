"""The feedback endpoint (CDS Hooks 2.0, digest §5): what clinicians did with our cards."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cards.source import OVERRIDE_REASONS, OVERRIDE_SYSTEM
from cds.api.dependencies import RecorderDep, SettingsDep, StoreDep
from cds.api.errors import ServiceError, invalid_fields, validation_failed
from cds.api.responses import JsonResponse
from cds.api.routes import find_service, parse_json_object
from cds.ops.metrics import FEEDBACK
from cds.security.auth import caller_issuer
from cds.storage.database import StorageConflict, StorageUnavailable
from cds.storage.deadline import within
from cds.storage.recorder import CardRecorder
from cds.storage.records import FeedbackRecord, OverrideReason
from cds.storage.store import Store

log = logging.getLogger("cds.api.feedback")

router = APIRouter()

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_ID = Field(min_length=1, max_length=256)
MAX_COMMENT_CHARS = 2000
# How long feedback waits for card records still queued by the recorder.
RECORD_WAIT_S = 1.0


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
    userComment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


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


def require_json(request: Request) -> None:
    """415 unless the body is declared `application/json`, as CDS Hooks sends it. A browser
    can post `text/plain` or a form to any site without asking; `application/json` from
    another origin needs a CORS preflight, which only CDS_CORS_ORIGINS pass."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise ServiceError(
            415, "not-supported", "feedback must be sent with Content-Type: application/json"
        )


async def check_against_records(
    store: Store,
    recorder: CardRecorder | None,
    service_id: str,
    issuer: str | None,
    records: list[FeedbackRecord],
    max_reports_per_card: int,
) -> list[FeedbackRecord]:
    """The records to store, once each is shown to be about a card this service issued to
    this caller, with a reason the card offered, and within the reports kept per card.

    A card from another caller is treated as unknown (which cards others were shown is not
    this caller's business). The reason's words stored are ours, not the caller's.
    """
    wanted = {r.card_uuid for r in records}
    on_record = await store.cards_on_record(wanted)
    if recorder is not None and recorder.pending and not wanted <= on_record.keys():
        # The card may have been shown a moment ago, its record still on its way: unknown
        # only once every card shown before this report is on record. Until then (the
        # database is slow to take the journal's records, say) the answer is "later".
        if not await recorder.caught_up(timeout_s=RECORD_WAIT_S):
            raise StorageUnavailable("cards shown before this report are not all on record yet")
        on_record = await store.cards_on_record(wanted)
    stored = await store.reports_per_card(wanted)
    per_card = Counter(r.card_uuid for r in records)
    problems: list[tuple[str, str]] = []
    checked: list[FeedbackRecord] = []
    for i, record in enumerate(records):
        card = on_record.get(record.card_uuid)
        if card is None or card.issuer != issuer:
            problems.append(
                (
                    f"feedback[{i}].card",
                    f"card {record.card_uuid} is not one this service issued to you",
                )
            )
            continue
        if card.service_id != service_id:
            # Stored under another service it would be counted against the wrong rule.
            problems.append(
                (
                    f"feedback[{i}].card",
                    f"card {record.card_uuid} was issued by the service '{card.service_id}'; "
                    f"send its feedback to /cds-services/{card.service_id}/feedback",
                )
            )
            continue
        if stored.get(record.card_uuid, 0) >= max_reports_per_card or (
            per_card[record.card_uuid] > max_reports_per_card
        ):
            problems.append(
                (
                    f"feedback[{i}].card",
                    f"card {record.card_uuid} has had {max_reports_per_card} reports; "
                    "no more are kept",
                )
            )
            continue
        reason = record.reason
        if reason is None or reason.code is None:
            checked.append(record)
            continue
        offered = card.override_reasons
        if offered is None:  # recorded before the reasons were: any of ours
            offered = frozenset(OVERRIDE_REASONS)
        if reason.system != OVERRIDE_SYSTEM or reason.code not in offered:
            choices = ", ".join(sorted(offered)) or "none"
            problems.append(
                (
                    f"feedback[{i}].overrideReason.reason",
                    f"is not one of the override reasons card {record.card_uuid} offered "
                    f"(system {OVERRIDE_SYSTEM}, codes: {choices})",
                )
            )
            continue
        ours = OverrideReason(OVERRIDE_SYSTEM, reason.code, OVERRIDE_REASONS.get(reason.code))
        checked.append(replace(record, reason=ours))
    if problems:
        raise invalid_fields(problems)
    return checked


async def store_feedback(
    store: Store,
    recorder: CardRecorder | None,
    service_id: str,
    issuer: str | None,
    records: list[FeedbackRecord],
    max_reports_per_card: int,
) -> list[FeedbackRecord]:
    checked = await check_against_records(
        store, recorder, service_id, issuer, records, max_reports_per_card
    )
    return await store.save_feedback(checked)


@router.post("/cds-services/{service_id}/feedback")
async def receive_feedback(
    service_id: str,
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    recorder: RecorderDep,
) -> JsonResponse:
    require_json(request)
    service = find_service(service_id)
    reports = parse_feedback(await request.body())
    records = [entry.record(service.id) for entry in reports.feedback]
    try:
        if store is None:
            raise StorageUnavailable("storage not opened")
        # One deadline for the request's database work (and its wait for a card's record):
        # a hung database is a 503 within it.
        stored = await within(
            settings.cds_db_timeout_s,
            store_feedback(
                store,
                recorder,
                service.id,
                caller_issuer(request),
                records,
                settings.cds_feedback_max_reports_per_card,
            ),
            "feedback",
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
