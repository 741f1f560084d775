"""Personal data over time: the access log hash-chained (and append-only), and a record of retention runs.

`registry_personal_data_access` gains `seq`, `prev_hash` and `row_hash` (registry.access_log specifies the
canonical row), the request id, and a salted digest of the purpose which the chain covers in the purpose's
place. Existing rows are chained in `id` order, each with a fresh salt. A trigger then refuses UPDATE, DELETE
and TRUNCATE, except the retention job's one change: clearing `purpose` and `purpose_salt` together, every
other column as it was (RELIABILITY.md T-P8: the chain stays valid). A superuser can disable the trigger; the
chain (`flexreg verify-audit`) catches what they change.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.hash_chain import GENESIS, chain_hash
from registry.access_log import SALT_BYTES, canonical_row, purpose_digest

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "registry_personal_data_access"


def upgrade() -> None:
    op.alter_column(TABLE, "purpose", existing_type=sa.Text(), nullable=True)
    for name, type_ in (
        ("seq", sa.BigInteger()),
        ("purpose_salt", sa.LargeBinary()),
        ("purpose_digest", sa.LargeBinary()),
        ("request_id", sa.Text()),
        ("prev_hash", sa.LargeBinary()),
        ("row_hash", sa.LargeBinary()),
    ):
        op.add_column(TABLE, sa.Column(name, type_, nullable=True))
    _chain_existing_rows()
    for name in ("seq", "purpose_digest", "prev_hash", "row_hash"):
        op.alter_column(TABLE, name, nullable=False)
    for name in ("seq", "prev_hash", "row_hash"):
        op.create_unique_constraint(op.f(f"uq_{TABLE}_{name}"), TABLE, [name])
    op.create_check_constraint(op.f(f"ck_{TABLE}_seq_positive"), TABLE, "seq >= 1")
    op.create_check_constraint(
        op.f(f"ck_{TABLE}_hash_sizes"),
        TABLE,
        "length(prev_hash) = 32 AND length(row_hash) = 32 AND length(purpose_digest) = 32",
    )
    op.create_check_constraint(
        op.f(f"ck_{TABLE}_purpose_with_its_salt"), TABLE, "(purpose IS NULL) = (purpose_salt IS NULL)"
    )
    op.execute(
        f"""
        CREATE FUNCTION registry_access_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                IF OLD.purpose IS NOT NULL AND NEW.purpose IS NULL AND NEW.purpose_salt IS NULL
                   AND to_jsonb(NEW) - ARRAY['purpose', 'purpose_salt']
                       = to_jsonb(OLD) - ARRAY['purpose', 'purpose_salt'] THEN
                    RETURN NEW;
                END IF;
            END IF;
            RAISE EXCEPTION '{TABLE} is append-only: % refused (retention may only clear a purpose)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_update_or_delete BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION registry_access_log_guard()"
    )
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_access_log_guard()"
    )
    op.create_table(
        "registry_retention_run",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_retention_run")),
    )
    op.create_index(op.f("ix_registry_retention_run_ran_at"), "registry_retention_run", ["ran_at"], unique=False)


def _chain_existing_rows() -> None:
    """Chain the rows logged before the chain existed, oldest id first (their order of writing)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            f"SELECT id, accessed_at, account_id, role, vendor_id, fields, purpose, request_path FROM {TABLE} "
            "ORDER BY id"
        )
    ).all()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        salt = os.urandom(SALT_BYTES)
        digest = purpose_digest(salt, row.purpose)
        row_hash = chain_hash(
            prev,
            canonical_row(
                seq=seq,
                accessed_at=row.accessed_at,
                account_id=row.account_id,
                role=row.role,
                vendor_id=row.vendor_id,
                fields=row.fields,
                purpose_digest=digest,
                request_path=row.request_path,
                request_id=None,
            ),
        )
        bind.execute(
            sa.text(
                f"UPDATE {TABLE} SET seq = :seq, purpose_salt = :salt, purpose_digest = :digest, "
                "prev_hash = :prev, row_hash = :row_hash WHERE id = :id"
            ),
            {"seq": seq, "salt": salt, "digest": digest, "prev": prev, "row_hash": row_hash, "id": row.id},
        )
        prev = row_hash


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_retention_run_ran_at"), table_name="registry_retention_run")
    op.drop_table("registry_retention_run")
    op.execute(f"DROP TRIGGER {TABLE}_no_truncate ON {TABLE}")
    op.execute(f"DROP TRIGGER {TABLE}_no_update_or_delete ON {TABLE}")
    op.execute("DROP FUNCTION registry_access_log_guard()")
    for name in ("purpose_with_its_salt", "hash_sizes", "seq_positive"):
        op.drop_constraint(op.f(f"ck_{TABLE}_{name}"), TABLE, type_="check")
    for name in ("row_hash", "prev_hash", "seq"):
        op.drop_constraint(op.f(f"uq_{TABLE}_{name}"), TABLE, type_="unique")
    for name in ("row_hash", "prev_hash", "request_id", "purpose_digest", "purpose_salt", "seq"):
        op.drop_column(TABLE, name)
    # A purpose cleared by retention cannot come back: the old column refuses nulls again.
    op.execute(f"UPDATE {TABLE} SET purpose = 'cleared by retention' WHERE purpose IS NULL")
    op.alter_column(TABLE, "purpose", existing_type=sa.Text(), nullable=False)
