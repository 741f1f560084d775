"""Registry foundation: accounts, jurisdictions, vendors, documents, key-group claims, access log.

The personal-data access log is append-only: triggers refuse UPDATE, DELETE and TRUNCATE (PIPL audit).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_jurisdiction",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.String(length=12), nullable=True),
        sa.Column("boundary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Double(), nullable=False),
        sa.Column("min_lat", sa.Double(), nullable=False),
        sa.Column("max_lon", sa.Double(), nullable=False),
        sa.Column("max_lat", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f("ck_registry_jurisdiction_code_is_12_digits")),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_registry_jurisdiction_parent_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_registry_jurisdiction")),
    )
    op.create_table(
        "registry_account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(role = 'department') = (department_code IS NOT NULL)",
            name=op.f("ck_registry_account_reviewer_has_department"),
        ),
        sa.CheckConstraint(
            "(role = 'street_office') = (jurisdiction_code IS NOT NULL)",
            name=op.f("ck_registry_account_staff_has_jurisdiction"),
        ),
        sa.CheckConstraint(
            "role IN ('vendor', 'street_office', 'department', 'admin')", name=op.f("ck_registry_account_role_known")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_registry_account_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_account")),
    )
    op.create_index(
        "uq_registry_account_username_lower", "registry_account", [sa.literal_column("lower(username)")], unique=True
    )
    op.create_table(
        "registry_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_account_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "media_type IN ('application/pdf', 'image/jpeg', 'image/png')",
            name=op.f("ck_registry_document_media_type_allowed"),
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_registry_document_size_positive")),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["registry_account.id"],
            name=op.f("fk_registry_document_owner_account_id_registry_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_document")),
    )
    op.create_index(
        op.f("ix_registry_document_owner_account_id"), "registry_document", ["owner_account_id"], unique=False
    )
    op.create_table(
        "registry_vendor",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_number_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_hmac", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("birth_on", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("phone_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("phone_masked", sa.String(length=16), nullable=False),
        sa.Column("residence_jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("business_registered_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["registry_account.id"], name=op.f("fk_registry_vendor_account_id_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["residence_jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_registry_vendor_residence_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_vendor")),
        sa.UniqueConstraint("account_id", name=op.f("uq_registry_vendor_account_id")),
        sa.UniqueConstraint("id_number_hmac", name=op.f("uq_registry_vendor_id_number_hmac")),
    )
    op.create_index(
        op.f("ix_registry_vendor_residence_jurisdiction_code"),
        "registry_vendor",
        ["residence_jurisdiction_code"],
        unique=False,
    )
    op.create_table(
        "registry_document_content",
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["registry_document.id"],
            name=op.f("fk_registry_document_content_document_id_registry_document"),
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_registry_document_content")),
    )
    op.create_table(
        "registry_key_group_claim",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("key_group", sa.String(length=32), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "key_group IN ('laid_off_unemployed', 'college_graduate', 'migrant_worker', 'employment_difficulty')",
            name=op.f("ck_registry_key_group_claim_key_group_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'rejected')", name=op.f("ck_registry_key_group_claim_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_registry_key_group_claim_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["registry_account.id"],
            name=op.f("fk_registry_key_group_claim_submitted_by_registry_account"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_registry_key_group_claim_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_key_group_claim")),
    )
    op.create_index(
        "ix_registry_key_group_claim_jurisdiction_status",
        "registry_key_group_claim",
        ["jurisdiction_code", "status", "submitted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_registry_key_group_claim_vendor_id"), "registry_key_group_claim", ["vendor_id"], unique=False
    )
    op.create_table(
        "registry_personal_data_access",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("request_path", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry_account.id"],
            name=op.f("fk_registry_personal_data_access_account_id_registry_account"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["registry_vendor.id"],
            name=op.f("fk_registry_personal_data_access_vendor_id_registry_vendor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_personal_data_access")),
    )
    op.create_index(
        op.f("ix_registry_personal_data_access_vendor_id"), "registry_personal_data_access", ["vendor_id"], unique=False
    )
    op.create_table(
        "registry_key_group_claim_evidence",
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["registry_key_group_claim.id"],
            name=op.f("fk_registry_key_group_claim_evidence_claim_id_registry_key_group_claim"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["registry_document.id"],
            name=op.f("fk_registry_key_group_claim_evidence_document_id_registry_document"),
        ),
        sa.PrimaryKeyConstraint("claim_id", "document_id", name=op.f("pk_registry_key_group_claim_evidence")),
    )
    op.create_table(
        "registry_key_group_decision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "decision = 'rejected' OR valid_until IS NOT NULL",
            name=op.f("ck_registry_key_group_decision_verified_has_validity"),
        ),
        sa.CheckConstraint(
            "decision IN ('verified', 'rejected')", name=op.f("ck_registry_key_group_decision_decision_known")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["registry_key_group_claim.id"],
            name=op.f("fk_registry_key_group_decision_claim_id_registry_key_group_claim"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["registry_account.id"],
            name=op.f("fk_registry_key_group_decision_decided_by_registry_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_key_group_decision")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_registry_key_group_decision_claim_id")),
    )


def downgrade() -> None:
    op.drop_table("registry_key_group_decision")
    op.drop_table("registry_key_group_claim_evidence")
    op.drop_index(op.f("ix_registry_personal_data_access_vendor_id"), table_name="registry_personal_data_access")
    op.drop_table("registry_personal_data_access")
    op.drop_index(op.f("ix_registry_key_group_claim_vendor_id"), table_name="registry_key_group_claim")
    op.drop_index("ix_registry_key_group_claim_jurisdiction_status", table_name="registry_key_group_claim")
    op.drop_table("registry_key_group_claim")
    op.drop_table("registry_document_content")
    op.drop_index(op.f("ix_registry_vendor_residence_jurisdiction_code"), table_name="registry_vendor")
    op.drop_table("registry_vendor")
    op.drop_index(op.f("ix_registry_document_owner_account_id"), table_name="registry_document")
    op.drop_table("registry_document")
    op.drop_index("uq_registry_account_username_lower", table_name="registry_account")
    op.drop_table("registry_account")
    op.drop_table("registry_jurisdiction")
