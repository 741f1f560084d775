"""Storage for the draw: each application's draw position, room on application pages for the draw's update of
tier and position, draw results stored uncompressed.

- `position` (the place in the draw order) lets `my-result` and a release's waiting list be answered from rows
  and indexes, not by parsing the whole published result (7 MB for 20,000 applicants) on every read.

- The draw writes every application's tier and position once. With full pages (fillfactor 100) each of those
  updates moves the row and adds an entry to all four of its indexes; with room left on the page it stays a HOT
  update and touches no index (20,000 applications: ~0.5 s → ~0.15 s on the project machine).
- The results (7 MB as JSON for 20,000 applicants) are mostly hex digests and UUIDs, which pglz barely
  shrinks but spends ~0.25 s trying; EXTERNAL keeps them out of line, uncompressed.

The storage settings are no schema change autogenerate compares; the models' docstrings say so.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("venues_round_application", sa.Column("position", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_venues_round_application_drawn_place"),
        "venues_round_application",
        "(tier IS NULL) = (position IS NULL) AND (position IS NULL OR position >= 1)",
    )
    op.execute("ALTER TABLE venues_round_application SET (fillfactor = 70)")
    op.execute("ALTER TABLE venues_allocation_round ALTER COLUMN result SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE venues_allocation_round ALTER COLUMN result SET STORAGE EXTENDED")
    op.execute("ALTER TABLE venues_round_application RESET (fillfactor)")
    op.drop_constraint(op.f("ck_venues_round_application_drawn_place"), "venues_round_application", type_="check")
    op.drop_column("venues_round_application", "position")
