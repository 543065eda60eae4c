"""What is written to and read from the store, independent of the HTTP wire format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Outcome = Literal["accepted", "overridden"]


@dataclass(frozen=True, slots=True)
class EmittedCard:
    card_uuid: str
    service_id: str
    rule: str
    indicator: str
    summary: str
    emitted_at: datetime
    # The client JWT's `iss` the card was sent to (None without authentication), and the
    # codes of the override reasons the card offered.
    issuer: str | None = None
    override_reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CardOnRecord:
    """What feedback about a card is checked against."""

    service_id: str
    issuer: str | None
    # None for cards recorded before the reasons were (revision 0001).
    override_reasons: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class OverrideReason:
    system: str | None
    code: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    card_uuid: str
    service_id: str
    outcome: Outcome
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    reason: OverrideReason | None = None
    user_comment: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    rule: str
    outcome: Outcome
    cards: int


@dataclass(frozen=True, slots=True)
class ReasonCount:
    rule: str
    reason: OverrideReason | None
    cards: int
