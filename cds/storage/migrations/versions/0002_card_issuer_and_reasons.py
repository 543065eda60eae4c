"""Each card record keeps the issuer it was sent to and the override reasons it offered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("emitted_cards") as table:
        table.add_column(sa.Column("issuer", sa.String(2048), nullable=True))
        table.add_column(sa.Column("override_reasons", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("emitted_cards") as table:
        table.drop_column("override_reasons")
        table.drop_column("issuer")
