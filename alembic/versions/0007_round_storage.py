"""Storage for the draw: room on application pages for the draw's tier update, draw results stored uncompressed.

- The draw writes every application's tier once. With full pages (fillfactor 100) each of those updates moves
  the row and adds an entry to all four of its indexes; with room left on the page it stays a HOT update and
  touches no index (20,000 applications: ~0.5 s → ~0.15 s on the project machine).
- The results (7 MB as JSON for 20,000 applicants) are mostly hex digests and UUIDs, which pglz barely
  shrinks but spends ~0.25 s trying; EXTERNAL keeps them out of line, uncompressed.

Neither is a schema change autogenerate compares; the models' docstrings say so.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE venues_round_application SET (fillfactor = 70)")
    op.execute("ALTER TABLE venues_allocation_round ALTER COLUMN result SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE venues_allocation_round ALTER COLUMN result SET STORAGE EXTENDED")
    op.execute("ALTER TABLE venues_round_application RESET (fillfactor)")
