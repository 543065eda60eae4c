"""Emitted cards and clinician feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cds.storage.types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "emitted_cards",
        sa.Column("card_uuid", sa.String(256), nullable=False),
        sa.Column("service_id", sa.String(256), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("summary", sa.String(256), nullable=False),
        sa.Column("emitted_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_emitted_cards"),
    )
    op.create_index("ix_emitted_cards_rule", "emitted_cards", ["rule"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("card_uuid", sa.String(256), nullable=False),
        sa.Column("service_id", sa.String(256), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", UtcDateTime(), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("reason_system", sa.String(512), nullable=True),
        sa.Column("reason_code", sa.String(256), nullable=True),
        sa.Column("reason_display", sa.String(512), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint(
            "card_uuid",
            "outcome",
            "outcome_timestamp",
            "accepted_suggestions",
            name="uq_feedback_report",
        ),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_card_uuid", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_emitted_cards_rule", table_name="emitted_cards")
    op.drop_table("emitted_cards")
