"""Permits: stored exemption checks (每次免照判断的记录), with what each decision was made from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.create_table(
        "permits_exemption_check",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=True),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("activity_code", sa.String(length=64), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=True),
        sa.Column("input", jsonb, nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reasons", jsonb, nullable=False),
        sa.Column("required_permits", jsonb, nullable=False),
        sa.Column("matched_place", jsonb, nullable=True),
        sa.Column("rule_version", sa.String(length=40), nullable=False),
        sa.Column("rule_versions", jsonb, nullable=False),
        sa.Column("venue_revisions", jsonb, nullable=False),
        sa.Column("decision_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('exempt', 'permits_required', 'not_allowed')",
            name=op.f("ck_permits_exemption_check_outcome_known"),
        ),
        sa.CheckConstraint(
            "reference IS NULL OR (outcome = 'exempt' AND vendor_id IS NOT NULL)",
            name=op.f("ck_permits_exemption_check_reference_only_when_exempt"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["registry_account.id"], name=op.f("fk_permits_exemption_check_created_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_permits_exemption_check_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_exemption_check")),
        sa.UniqueConstraint("reference", name=op.f("uq_permits_exemption_check_reference")),
    )
    op.create_index(
        "ix_permits_exemption_check_vendor", "permits_exemption_check", ["vendor_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_permits_exemption_check_vendor", table_name="permits_exemption_check")
    op.drop_table("permits_exemption_check")
