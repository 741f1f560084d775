"""Idempotency keys: one row per principal and key, holding the lease and then the stored response.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_idempotency_key",
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state = 'in_progress' OR response_status IS NOT NULL",
            name=op.f("ck_core_idempotency_key_completed_has_response"),
        ),
        sa.CheckConstraint("state IN ('in_progress', 'completed')", name=op.f("ck_core_idempotency_key_state_known")),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_core_idempotency_key")),
    )


def downgrade() -> None:
    op.drop_table("core_idempotency_key")
