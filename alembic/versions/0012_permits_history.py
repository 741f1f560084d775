"""Permits history: the append-only, hash-chained record of applications, tasks and permits, and its anchors.

The history and its anchors refuse UPDATE and DELETE (row triggers) and TRUNCATE (a statement trigger): a
record that could be changed in place would prove nothing (RELIABILITY.md A16). A superuser can still disable
the triggers; the hash chain and the signed daily anchors kept outside catch that (permits.history_verify).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Facts once written: the history's rows and the heads signed over them.
APPEND_ONLY = ("permits_history", "permits_history_anchor")


def upgrade() -> None:
    op.create_table(
        "permits_history",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("permit_number", sa.Text(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.Text(), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("row_hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_permits_history_seq_positive")),
        sa.CheckConstraint(
            "event ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$' AND length(event) <= 64",
            name=op.f("ck_permits_history_event_snake_case"),
        ),
        sa.CheckConstraint(
            "actor_role IN ('vendor', 'street_office', 'department', 'admin', 'system')",
            name=op.f("ck_permits_history_actor_role_known"),
        ),
        sa.CheckConstraint(
            "(actor_role = 'system') = (actor_account_id IS NULL)",
            name=op.f("ck_permits_history_actor_account_unless_system"),
        ),
        sa.CheckConstraint(
            "length(prev_hash) = 32 AND length(row_hash) = 32", name=op.f("ck_permits_history_hash_sizes")
        ),
        sa.CheckConstraint("jsonb_typeof(payload) = 'object'", name=op.f("ck_permits_history_payload_is_object")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_permits_history")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_permits_history_prev_hash")),
        sa.UniqueConstraint("row_hash", name=op.f("uq_permits_history_row_hash")),
    )
    op.create_index("ix_permits_history_application_id_seq", "permits_history", ["application_id", "seq"])
    op.execute(
        """
        CREATE FUNCTION permits_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.create_table(
        "permits_history_anchor",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("kid", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_permits_history_anchor_seq_positive")),
        sa.CheckConstraint("length(row_hash) = 32", name=op.f("ck_permits_history_anchor_hash_size")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_permits_history_anchor")),
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_or_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION permits_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION permits_refuse_change()"
        )


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER {table}_no_update_or_delete ON {table}")
    op.drop_table("permits_history_anchor")
    op.execute("DROP FUNCTION permits_refuse_change()")
    op.drop_index("ix_permits_history_application_id_seq", table_name="permits_history")
    op.drop_table("permits_history")
