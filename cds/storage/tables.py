"""The schema. Alembic migrations under `migrations/` create it; keep the two in step."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from cds.storage.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per card the service returned. The summary is written for clinicians and names
# no patient, so it may be kept; nothing that identifies the patient is stored.
emitted_cards = Table(
    "emitted_cards",
    metadata,
    Column("card_uuid", String(256), primary_key=True),
    Column("service_id", String(256), nullable=False),
    Column("rule", String(128), nullable=False, index=True),
    Column("indicator", String(16), nullable=False),
    Column("summary", String(256), nullable=False),
    Column("emitted_at", UtcDateTime(), nullable=False),
    # Who the card was sent to (the client JWT's `iss`; NULL when the service runs without
    # authentication) and the codes of the override reasons it offered, space-separated
    # ("" when none; NULL on records from before revision 0002): feedback is taken only
    # from that issuer, with one of those reasons.
    Column("issuer", String(2048)),
    Column("override_reasons", Text),
)

# One row per distinct feedback report. EHRs may resend a report, so the natural key
# (card, outcome, time, chosen suggestions) is unique and inserts ignore repeats.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(256), nullable=False, index=True),
    Column("service_id", String(256), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", UtcDateTime(), nullable=False),
    # Sorted suggestion ids joined by spaces; "" when none, so the unique key sees no NULLs.
    Column("accepted_suggestions", Text, nullable=False),
    Column("reason_system", String(512)),
    Column("reason_code", String(256)),
    Column("reason_display", String(512)),
    Column("user_comment", Text),
    Column("received_at", UtcDateTime(), nullable=False),
    UniqueConstraint(
        "card_uuid",
        "outcome",
        "outcome_timestamp",
        "accepted_suggestions",
        name="uq_feedback_report",
    ),
)
