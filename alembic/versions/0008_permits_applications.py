"""Permits: one-stop applications, their department tasks, supplement notices and Art. 45 clock pauses.

One application, one task per required permit and department (the road authority and the traffic police each
for road occupation). Decision numbers come from one sequence. Road occupancies gain `refused`: a department's
rejection of the permit application ends the occupancy it waited on, freeing its slot.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "permits_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("activity_code", sa.String(length=64), nullable=False),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("periods", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("venue_id", sa.Uuid(), nullable=True),
        sa.Column("venue_revision", sa.Integer(), nullable=True),
        sa.Column("road_occupancy_id", sa.Uuid(), nullable=True),
        sa.Column("exemption_check_id", sa.Uuid(), nullable=True),
        sa.Column("rule_version", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("green_channel", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("completeness_due_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("joint_due_on", sa.Date(), nullable=True),
        sa.Column("joint_due_provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("joint_overdue_noted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("permit_number", sa.String(length=40), nullable=True),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("lead_department", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)",
            name=op.f("ck_permits_application_withdrawn_has_time"),
        ),
        sa.CheckConstraint(
            "(status IN ('approved', 'rejected')) = (decided_at IS NOT NULL)",
            name=op.f("ck_permits_application_decided_has_time"),
        ),
        sa.CheckConstraint(
            "status IN ('in_review', 'needs_supplement', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_permits_application_status_known"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_permits_application_version_positive")),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_permits_application_vendor_id_registry_vendor")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_permits_application_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues_venue.id"], name=op.f("fk_permits_application_venue_id_venues_venue")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_application")),
        sa.UniqueConstraint("permit_number", name=op.f("uq_permits_application_permit_number")),
        sa.UniqueConstraint("road_occupancy_id", name=op.f("uq_permits_application_road_occupancy_id")),
    )
    op.create_index(
        "ix_permits_application_vendor_created", "permits_application", ["vendor_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "permits_application_document",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["permits_application.id"],
            name=op.f("fk_permits_application_document_application_id_permits_application"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["registry_document.id"],
            name=op.f("fk_permits_application_document_document_id_registry_document"),
        ),
        sa.PrimaryKeyConstraint("application_id", "document_id", name=op.f("pk_permits_application_document")),
    )
    op.create_table(
        "permits_supplement_notice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("before_acceptance", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answer_documents", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "(answered_at IS NULL) = (answer_note IS NULL AND answer_documents IS NULL AND answered_on IS NULL)",
            name=op.f("ck_permits_supplement_notice_answer_whole"),
        ),
        sa.CheckConstraint("round >= 1", name=op.f("ck_permits_supplement_notice_round_positive")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["permits_application.id"],
            name=op.f("fk_permits_supplement_notice_application_id_permits_application"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_supplement_notice")),
        sa.UniqueConstraint("application_id", "round", name=op.f("uq_permits_supplement_notice_application_id_round")),
    )
    op.create_index(
        "uq_permits_supplement_notice_open",
        "permits_supplement_notice",
        ["application_id"],
        unique=True,
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.create_table(
        "permits_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=False),
        sa.Column("permit_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("limit_unit", sa.String(length=14), nullable=False),
        sa.Column("limit_basis", sa.Text(), nullable=False),
        sa.Column("statutory_days", sa.Integer(), nullable=False),
        sa.Column("extension_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extension_approved_by", sa.Text(), nullable=True),
        sa.Column("extension_approved_on", sa.Date(), nullable=True),
        sa.Column("paused_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("statutory_due_on", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_number", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("overdue_reason", sa.Text(), nullable=True),
        sa.Column("overdue_action", sa.String(length=16), nullable=True),
        sa.Column("overdue_noted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "conditions", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status IN ('approved', 'rejected')) = (decided_at IS NOT NULL)",
            name=op.f("ck_permits_task_decided_has_time"),
        ),
        sa.CheckConstraint(
            "(status IN ('approved', 'rejected')) = (decision_number IS NOT NULL)",
            name=op.f("ck_permits_task_decided_numbered"),
        ),
        sa.CheckConstraint(
            "kind = 'licence' OR status <> 'rejected'", name=op.f("ck_permits_task_filing_never_refused")
        ),
        sa.CheckConstraint("kind IN ('licence', 'filing')", name=op.f("ck_permits_task_kind_known")),
        sa.CheckConstraint(
            "limit_unit IN ('working_day', 'calendar_day')", name=op.f("ck_permits_task_limit_unit_known")
        ),
        sa.CheckConstraint("mode IN ('review', 'commitment')", name=op.f("ck_permits_task_mode_known")),
        sa.CheckConstraint(
            "status IN ('in_review', 'needs_supplement', 'approved', 'rejected', 'closed')",
            name=op.f("ck_permits_task_status_known"),
        ),
        sa.CheckConstraint(
            "extension_days >= 0 AND paused_days >= 0 AND limit_days >= 0",
            name=op.f("ck_permits_task_days_not_negative"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_permits_task_version_positive")),
        sa.CheckConstraint(
            "overdue_action IN ('escalated', 'blocked', 'deemed_consent')",
            name=op.f("ck_permits_task_overdue_action_known"),
        ),
        sa.CheckConstraint(
            "(overdue_action IS NULL) = (overdue_noted_at IS NULL)", name=op.f("ck_permits_task_overdue_noted_whole")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["permits_application.id"],
            name=op.f("fk_permits_task_application_id_permits_application"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["registry_account.id"], name=op.f("fk_permits_task_decided_by_registry_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_task")),
        sa.UniqueConstraint(
            "application_id",
            "permit_type",
            "department",
            name=op.f("uq_permits_task_application_id_permit_type_department"),
        ),
        sa.UniqueConstraint("decision_number", name=op.f("uq_permits_task_decision_number")),
    )
    op.create_index(op.f("ix_permits_task_application_id"), "permits_task", ["application_id"], unique=False)
    op.create_index("ix_permits_task_queue", "permits_task", ["department", "status", "due_on"], unique=False)
    op.create_table(
        "permits_clock_pause",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('hearing', 'testing', 'inspection', 'expert_review')",
            name=op.f("ck_permits_clock_pause_kind_known"),
        ),
        sa.CheckConstraint("starts_on >= notified_on", name=op.f("ck_permits_clock_pause_starts_after_notice")),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_permits_clock_pause_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["registry_account.id"], name=op.f("fk_permits_clock_pause_recorded_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["permits_task.id"], name=op.f("fk_permits_clock_pause_task_id_permits_task")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_clock_pause")),
    )
    op.create_index(op.f("ix_permits_clock_pause_task_id"), "permits_clock_pause", ["task_id"], unique=False)
    op.create_table(
        "permits_commitment",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("text_version", sa.String(length=40), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_by", sa.Uuid(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inspection_due_on", sa.Date(), nullable=False),
        sa.Column("inspection_due_provisional", sa.Boolean(), nullable=False),
        sa.CheckConstraint("text_sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_permits_commitment_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["signed_by"], ["registry_account.id"], name=op.f("fk_permits_commitment_signed_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["permits_task.id"], name=op.f("fk_permits_commitment_task_id_permits_task")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_permits_commitment")),
    )
    op.execute("CREATE SEQUENCE permits_decision_number_seq")
    op.drop_constraint(op.f("ck_venues_road_occupancy_status_known"), "venues_road_occupancy", type_="check")
    op.create_check_constraint(
        op.f("ck_venues_road_occupancy_status_known"),
        "venues_road_occupancy",
        "status IN ('approved', 'pending_permit', 'refused', 'withdrawn', 'revoked')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_venues_road_occupancy_status_known"), "venues_road_occupancy", type_="check")
    op.create_check_constraint(
        op.f("ck_venues_road_occupancy_status_known"),
        "venues_road_occupancy",
        "status IN ('approved', 'pending_permit', 'withdrawn', 'revoked')",
    )
    op.execute("DROP SEQUENCE permits_decision_number_seq")
    op.drop_table("permits_commitment")
    op.drop_index(op.f("ix_permits_clock_pause_task_id"), table_name="permits_clock_pause")
    op.drop_table("permits_clock_pause")
    op.drop_index("ix_permits_task_queue", table_name="permits_task")
    op.drop_index(op.f("ix_permits_task_application_id"), table_name="permits_task")
    op.drop_table("permits_task")
    op.drop_index(
        "uq_permits_supplement_notice_open",
        table_name="permits_supplement_notice",
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.drop_table("permits_supplement_notice")
    op.drop_table("permits_application_document")
    op.drop_index("ix_permits_application_vendor_created", table_name="permits_application")
    op.drop_table("permits_application")
