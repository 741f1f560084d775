"""Issued permits: signing keys, permits, their components and each status change.

One active signing key at a time (a partial unique index on `retired_at IS NULL`), so two processes making
the first key at once end with one. `application_id` and `task_id` carry no foreign key here: the
applications' and tasks' tables come with their own revision, which adds them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STORED = "'valid', 'suspended', 'revoked'"


def upgrade() -> None:
    op.create_table(
        "permits_signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(public_key) = 32", name=op.f("ck_permits_signing_key_public_key_length")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_permits_signing_key")),
    )
    op.create_index(
        "uq_permits_signing_key_active",
        "permits_signing_key",
        [sa.text("(retired_at IS NULL)")],
        unique=True,
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_table(
        "permits_permit",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("activity_code", sa.String(length=64), nullable=False),
        sa.Column("holder_masked", sa.Text(), nullable=False),
        sa.Column("id_last4", sa.String(length=4), nullable=False),
        sa.Column("place", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="valid", nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(f"status IN ({_STORED})", name=op.f("ck_permits_permit_status_known")),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_permits_permit_validity_ordered")),
        sa.CheckConstraint("id_last4 ~ '^[0-9]{3}[0-9X]$'", name=op.f("ck_permits_permit_id_last4_shape")),
        sa.ForeignKeyConstraint(
            ["kid"], ["permits_signing_key.kid"], name=op.f("fk_permits_permit_kid_permits_signing_key")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_permits_permit_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_permits_permit")),
        sa.UniqueConstraint("application_id", name=op.f("uq_permits_permit_application_id")),
    )
    op.create_index(op.f("ix_permits_permit_vendor_id"), "permits_permit", ["vendor_id"], unique=False)
    op.create_table(
        "permits_permit_component",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("permit_number", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("permit_type", sa.String(length=64), nullable=False),
        sa.Column("decision_number", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="valid", nullable=False),
        sa.Column("ground", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("compensation", sa.Text(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"status IN ({_STORED})", name=op.f("ck_permits_permit_component_status_known")),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_permits_permit_component_validity_ordered")),
        sa.ForeignKeyConstraint(
            ["permit_number"],
            ["permits_permit.number"],
            name=op.f("fk_permits_permit_component_permit_number_permits_permit"),
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_permits_permit_component")),
    )
    op.create_index(
        op.f("ix_permits_permit_component_permit_number"), "permits_permit_component", ["permit_number"], unique=False
    )
    op.create_table(
        "permits_status_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("permit_number", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("ground", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("compensation", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            f"from_status IN ({_STORED}, 'expired')", name=op.f("ck_permits_status_change_from_status_known")
        ),
        sa.CheckConstraint(f"to_status IN ({_STORED})", name=op.f("ck_permits_status_change_to_status_known")),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["registry_account.id"],
            name=op.f("fk_permits_status_change_decided_by_registry_account"),
        ),
        sa.ForeignKeyConstraint(
            ["permit_number"],
            ["permits_permit.number"],
            name=op.f("fk_permits_status_change_permit_number_permits_permit"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["permits_permit_component.task_id"],
            name=op.f("fk_permits_status_change_task_id_permits_permit_component"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_status_change")),
    )
    op.create_index(
        op.f("ix_permits_status_change_permit_number"),
        "permits_status_change",
        ["permit_number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_permits_status_change_permit_number"), table_name="permits_status_change")
    op.drop_table("permits_status_change")
    op.drop_index(op.f("ix_permits_permit_component_permit_number"), table_name="permits_permit_component")
    op.drop_table("permits_permit_component")
    op.drop_index(op.f("ix_permits_permit_vendor_id"), table_name="permits_permit")
    op.drop_table("permits_permit")
    op.drop_index("uq_permits_signing_key_active", table_name="permits_signing_key")
    op.drop_table("permits_signing_key")
