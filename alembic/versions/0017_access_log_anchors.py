"""The personal-data access log's anchors: its head, signed once per city day (registry.access_log_anchors).

Like the permits history's (0012), an anchor is a fact once written: row triggers refuse UPDATE and DELETE,
a statement trigger TRUNCATE. The function is the registry's own, so the registry's tables do not lean on a
function a later domain's migration created.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "registry_access_log_anchor"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f(f"ck_{TABLE}_seq_positive")),
        sa.CheckConstraint("length(row_hash) = 32", name=op.f(f"ck_{TABLE}_hash_size")),
        sa.PrimaryKeyConstraint("day", name=op.f(f"pk_{TABLE}")),
    )
    op.execute(
        """
        CREATE FUNCTION registry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_update_or_delete BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION registry_refuse_change()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_change()"
    )


def downgrade() -> None:
    op.execute(f"DROP TRIGGER {TABLE}_no_truncate ON {TABLE}")
    op.execute(f"DROP TRIGGER {TABLE}_no_update_or_delete ON {TABLE}")
    op.drop_table(TABLE)
    op.execute("DROP FUNCTION registry_refuse_change()")
