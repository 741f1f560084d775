"""Road occupancy: when its holder withdrew it.

A withdrawn occupancy keeps its row (a decision is a fact); `withdrawn_at` says when, and a CHECK ties it to
the status so neither is written without the other.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("venues_road_occupancy", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_venues_road_occupancy_withdrawn_has_time"),
        "venues_road_occupancy",
        "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_venues_road_occupancy_withdrawn_has_time"), "venues_road_occupancy", type_="check")
    op.drop_column("venues_road_occupancy", "withdrawn_at")
