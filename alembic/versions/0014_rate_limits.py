"""Rate limits: one counter per limit, caller and fixed window, shared by every app process (core.rate_limits).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_rate_limit_counter",
        sa.Column("bucket", sa.String(length=96), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_core_rate_limit_counter")),
    )
    # The prune job deletes by window end.
    op.create_index(
        op.f("ix_core_rate_limit_counter_window_end"), "core_rate_limit_counter", ["window_end"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_core_rate_limit_counter_window_end"), table_name="core_rate_limit_counter")
    op.drop_table("core_rate_limit_counter")
