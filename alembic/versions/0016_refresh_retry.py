"""Refresh tokens name their successor: a retry of a spent token within the grace supersedes it (registry.sessions).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tokens spent before this revision name no successor: presented again, they revoke their family as before.
    op.add_column("registry_refresh_token", sa.Column("replaced_by", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("registry_refresh_token", "replaced_by")
