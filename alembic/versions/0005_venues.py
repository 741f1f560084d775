"""Venues: places and their revisions, pitches, restricted features, allocation rounds, road occupancies.

The exclusion constraints compare one-value int8ranges of integer keys (pitch_no, holder_no) beside the
term's daterange: GiST's built-in range operator classes, so no btree_gist (absent from the embedded server).
The venue-change counter starts with its single row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "venues_change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("counter", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_venues_change_counter_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_change_counter")),
    )
    op.execute("INSERT INTO venues_change_counter (id, counter) VALUES (1, 0)")
    op.create_table(
        "venues_allocation_round",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("applications_close_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("seed", sa.LargeBinary(), nullable=False),
        sa.Column("seed_commitment", sa.String(length=64), nullable=False),
        sa.Column("beacon_description", sa.Text(), nullable=True),
        sa.Column("beacon_available_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("beacon_value", sa.Text(), nullable=True),
        sa.Column("applications_digest", sa.String(length=64), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drawn_by", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(beacon_description IS NULL) = (beacon_available_after IS NULL)",
            name=op.f("ck_venues_allocation_round_beacon_complete"),
        ),
        sa.CheckConstraint(
            "(drawn_at IS NULL) = (result IS NULL)", name=op.f("ck_venues_allocation_round_drawn_has_result")
        ),
        sa.CheckConstraint(
            "beacon_value IS NULL OR beacon_description IS NOT NULL",
            name=op.f("ck_venues_allocation_round_beacon_value_needs_beacon"),
        ),
        sa.CheckConstraint("octet_length(seed) = 32", name=op.f("ck_venues_allocation_round_seed_is_32_bytes")),
        sa.CheckConstraint("term_end >= term_start", name=op.f("ck_venues_allocation_round_term_ordered")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["registry_account.id"], name=op.f("fk_venues_allocation_round_created_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["drawn_by"], ["registry_account.id"], name=op.f("fk_venues_allocation_round_drawn_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_venues_allocation_round_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_allocation_round")),
    )
    op.create_index(
        "ix_venues_allocation_round_jurisdiction",
        "venues_allocation_round",
        ["jurisdiction_code", "applications_close_at"],
        unique=False,
    )
    op.create_table(
        "venues_restricted_feature",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("buffer_m", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('fire_hydrant', 'intersection', 'school_gate', 'hospital_entrance', 'bus_stop', 'metro_exit', 'fire_lane', 'pollution_source', 'blind_lane', 'highway_land')",  # noqa: E501
            name=op.f("ck_venues_restricted_feature_kind_known"),
        ),
        sa.CheckConstraint(
            "buffer_m IS NULL OR (buffer_m >= 0 AND buffer_m <= 1000)",
            name=op.f("ck_venues_restricted_feature_buffer_in_range"),
        ),
        sa.CheckConstraint(
            "min_lon <= max_lon AND min_lat <= max_lat", name=op.f("ck_venues_restricted_feature_bbox_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["registry_account.id"],
            name=op.f("fk_venues_restricted_feature_created_by_registry_account"),
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_venues_restricted_feature_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_restricted_feature")),
    )
    op.create_index(
        "ix_venues_restricted_feature_bbox",
        "venues_restricted_feature",
        ["min_lon", "max_lon", "min_lat", "max_lat"],
        unique=False,
    )
    op.create_index(
        op.f("ix_venues_restricted_feature_jurisdiction_code"),
        "venues_restricted_feature",
        ["jurisdiction_code"],
        unique=False,
    )
    op.create_table(
        "venues_venue",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("jurisdiction_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("closed_dates", postgresql.ARRAY(sa.Date()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("allowed_categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("is_carriageway", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sidewalk_width_m", sa.Float(), nullable=True),
        sa.Column("min_clearance_m", sa.Float(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("designation_authority", sa.Text(), nullable=True),
        sa.Column("designation_document_number", sa.Text(), nullable=True),
        sa.Column("designated_on", sa.Date(), nullable=True),
        sa.Column("joint_approval_road_document", sa.Text(), nullable=True),
        sa.Column("joint_approval_police_document", sa.Text(), nullable=True),
        sa.Column("joint_approval_valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "cardinality(allowed_categories) >= 1 AND allowed_categories <@ ARRAY['agricultural_products', 'convenience_services', 'daily_necessities', 'prepackaged_food', 'prepared_food', 'restricted']::text[]",  # noqa: E501
            name=op.f("ck_venues_venue_categories_known"),
        ),
        sa.CheckConstraint(
            "kind = 'designated_zone' OR designation_authority IS NULL",
            name=op.f("ck_venues_venue_designation_only_on_designated_zones"),
        ),
        sa.CheckConstraint(
            "kind = 'road_zone' OR (joint_approval_road_document IS NULL AND NOT is_carriageway)",
            name=op.f("ck_venues_venue_road_fields_only_on_road_zones"),
        ),
        sa.CheckConstraint(
            "kind IN ('community_space', 'designated_zone', 'road_zone')", name=op.f("ck_venues_venue_kind_known")
        ),
        sa.CheckConstraint("status IN ('open', 'suspended', 'closed')", name=op.f("ck_venues_venue_status_known")),
        sa.CheckConstraint(
            "(designation_authority IS NULL) = (designation_document_number IS NULL) AND (designation_authority IS NULL) = (designated_on IS NULL)",  # noqa: E501
            name=op.f("ck_venues_venue_designation_complete"),
        ),
        sa.CheckConstraint(
            "(joint_approval_road_document IS NULL) = (joint_approval_police_document IS NULL) AND (joint_approval_road_document IS NULL) = (joint_approval_valid_to IS NULL)",  # noqa: E501
            name=op.f("ck_venues_venue_joint_approval_complete"),
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name=op.f("ck_venues_venue_capacity_positive")),
        sa.CheckConstraint("min_lon <= max_lon AND min_lat <= max_lat", name=op.f("ck_venues_venue_bbox_ordered")),
        sa.CheckConstraint(
            "status_until IS NULL OR status_from IS NULL OR status_until > status_from",
            name=op.f("ck_venues_venue_status_period"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_venues_venue_valid_to_after_from")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["registry_account.id"], name=op.f("fk_venues_venue_created_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_code"],
            ["registry_jurisdiction.code"],
            name=op.f("fk_venues_venue_jurisdiction_code_registry_jurisdiction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_venue")),
    )
    op.create_index("ix_venues_venue_bbox", "venues_venue", ["min_lon", "max_lon", "min_lat", "max_lat"], unique=False)
    op.create_index(
        "ix_venues_venue_jurisdiction_kind", "venues_venue", ["jurisdiction_code", "kind", "id"], unique=False
    )
    op.create_table(
        "venues_holder",
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("holder_no", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_venues_holder_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("vendor_id", name=op.f("pk_venues_holder")),
        sa.UniqueConstraint("holder_no", name=op.f("uq_venues_holder_holder_no")),
    )
    op.create_table(
        "venues_pitch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pitch_no", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("venue_id", sa.Uuid(), nullable=False),
        sa.Column("venue_revision", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("geometry", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("checks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rules_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('open', 'suspended', 'closed')", name=op.f("ck_venues_pitch_status_known")),
        sa.CheckConstraint("min_lon <= max_lon AND min_lat <= max_lat", name=op.f("ck_venues_pitch_bbox_ordered")),
        sa.CheckConstraint(
            "status_until IS NULL OR status_from IS NULL OR status_until > status_from",
            name=op.f("ck_venues_pitch_status_period"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["registry_account.id"], name=op.f("fk_venues_pitch_created_by_registry_account")
        ),
        sa.ForeignKeyConstraint(["venue_id"], ["venues_venue.id"], name=op.f("fk_venues_pitch_venue_id_venues_venue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_pitch")),
        sa.UniqueConstraint("pitch_no", name=op.f("uq_venues_pitch_pitch_no")),
        sa.UniqueConstraint("venue_id", "label", name=op.f("uq_venues_pitch_venue_id_label")),
    )
    op.create_index(op.f("ix_venues_pitch_venue_id"), "venues_pitch", ["venue_id"], unique=False)
    op.create_table(
        "venues_road_occupancy",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Uuid(), nullable=False),
        sa.Column("venue_revision", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("activity_code", sa.String(length=64), nullable=False),
        sa.Column("footprint", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("span", postgresql.TSTZRANGE(), nullable=False),
        sa.Column("checks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rules_version", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fee_cny", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("fee_exemption_basis", sa.Text(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'pending_permit' OR application_id IS NOT NULL",
            name=op.f("ck_venues_road_occupancy_pending_has_application"),
        ),
        sa.CheckConstraint(
            "status IN ('approved', 'pending_permit', 'withdrawn', 'revoked')",
            name=op.f("ck_venues_road_occupancy_status_known"),
        ),
        sa.CheckConstraint("fee_cny = 0", name=op.f("ck_venues_road_occupancy_fee_waived")),
        sa.CheckConstraint(
            "min_lon <= max_lon AND min_lat <= max_lat", name=op.f("ck_venues_road_occupancy_bbox_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_venues_road_occupancy_vendor_id_registry_vendor")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["venues_venue.id"], name=op.f("fk_venues_road_occupancy_zone_id_venues_venue")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_road_occupancy")),
    )
    op.create_index(op.f("ix_venues_road_occupancy_vendor_id"), "venues_road_occupancy", ["vendor_id"], unique=False)
    op.create_index(
        "ix_venues_road_occupancy_zone_status", "venues_road_occupancy", ["zone_id", "status"], unique=False
    )
    op.create_table(
        "venues_round_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("applicant_ref", sa.String(length=32), nullable=False),
        sa.Column("choices", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("activity_code", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cardinality(choices) BETWEEN 1 AND 5", name=op.f("ck_venues_round_application_one_to_five_choices")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["venues_allocation_round.id"],
            name=op.f("fk_venues_round_application_round_id_venues_allocation_round"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_venues_round_application_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_round_application")),
        sa.UniqueConstraint(
            "round_id", "applicant_ref", name=op.f("uq_venues_round_application_round_id_applicant_ref")
        ),
        sa.UniqueConstraint("round_id", "vendor_id", name=op.f("uq_venues_round_application_round_id_vendor_id")),
    )
    op.create_index(
        op.f("ix_venues_round_application_vendor_id"), "venues_round_application", ["vendor_id"], unique=False
    )
    op.create_table(
        "venues_venue_revision",
        sa.Column("venue_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Uuid(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["registry_account.id"], name=op.f("fk_venues_venue_revision_changed_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues_venue.id"], name=op.f("fk_venues_venue_revision_venue_id_venues_venue")
        ),
        sa.PrimaryKeyConstraint("venue_id", "revision", name=op.f("pk_venues_venue_revision")),
    )
    op.create_table(
        "venues_allocation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("pitch_id", sa.Uuid(), nullable=False),
        sa.Column("pitch_no", sa.BigInteger(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("holder_no", sa.BigInteger(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("choice_rank", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'held'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.text("int8range(holder_no, holder_no, '[]')"), "&&"),
            (sa.text("daterange(term_start, term_end, '[]')"), "&&"),
            where=sa.text("status = 'held'"),
            using="gist",
            name="ex_venues_allocation_holder_term",
        ),
        postgresql.ExcludeConstraint(
            (sa.text("int8range(pitch_no, pitch_no, '[]')"), "&&"),
            (sa.text("daterange(term_start, term_end, '[]')"), "&&"),
            where=sa.text("status = 'held'"),
            using="gist",
            name="ex_venues_allocation_pitch_term",
        ),
        sa.CheckConstraint(
            "(status = 'released') = (released_at IS NOT NULL)", name=op.f("ck_venues_allocation_released_has_time")
        ),
        sa.CheckConstraint("source IN ('draw', 'waiting_list')", name=op.f("ck_venues_allocation_source_known")),
        sa.CheckConstraint("status IN ('held', 'released')", name=op.f("ck_venues_allocation_status_known")),
        sa.CheckConstraint("term_end >= term_start", name=op.f("ck_venues_allocation_term_ordered")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["venues_round_application.id"],
            name=op.f("fk_venues_allocation_application_id_venues_round_application"),
        ),
        sa.ForeignKeyConstraint(
            ["pitch_id"], ["venues_pitch.id"], name=op.f("fk_venues_allocation_pitch_id_venues_pitch")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["venues_allocation.id"], name=op.f("fk_venues_allocation_replaces_id_venues_allocation")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["venues_allocation_round.id"],
            name=op.f("fk_venues_allocation_round_id_venues_allocation_round"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["registry_vendor.id"], name=op.f("fk_venues_allocation_vendor_id_registry_vendor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues_allocation")),
    )
    op.create_index(op.f("ix_venues_allocation_pitch_id"), "venues_allocation", ["pitch_id"], unique=False)
    op.create_index(op.f("ix_venues_allocation_round_id"), "venues_allocation", ["round_id"], unique=False)
    op.create_index("ix_venues_allocation_vendor", "venues_allocation", ["vendor_id", "term_start"], unique=False)
    op.create_table(
        "venues_pitch_revision",
        sa.Column("pitch_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("venue_revision", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Uuid(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["registry_account.id"], name=op.f("fk_venues_pitch_revision_changed_by_registry_account")
        ),
        sa.ForeignKeyConstraint(
            ["pitch_id"], ["venues_pitch.id"], name=op.f("fk_venues_pitch_revision_pitch_id_venues_pitch")
        ),
        sa.PrimaryKeyConstraint("pitch_id", "revision", name=op.f("pk_venues_pitch_revision")),
    )
    op.create_table(
        "venues_road_occupancy_period",
        sa.Column("occupancy_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("during", postgresql.TSTZRANGE(), nullable=False),
        sa.CheckConstraint(
            "upper(during) > lower(during)", name=op.f("ck_venues_road_occupancy_period_period_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["occupancy_id"],
            ["venues_road_occupancy.id"],
            name=op.f("fk_venues_road_occupancy_period_occupancy_id_venues_road_occupancy"),
        ),
        sa.PrimaryKeyConstraint("occupancy_id", "position", name=op.f("pk_venues_road_occupancy_period")),
    )
    op.create_index(
        "ix_venues_road_occupancy_period_during",
        "venues_road_occupancy_period",
        ["during"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "venues_round_pitch",
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("pitch_id", sa.Uuid(), nullable=False),
        sa.Column("pitch_no", sa.BigInteger(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.text("int8range(pitch_no, pitch_no, '[]')"), "&&"),
            (sa.text("daterange(term_start, term_end, '[]')"), "&&"),
            using="gist",
            name="ex_venues_round_pitch_term",
        ),
        sa.CheckConstraint("term_end >= term_start", name=op.f("ck_venues_round_pitch_term_ordered")),
        sa.ForeignKeyConstraint(
            ["pitch_id"], ["venues_pitch.id"], name=op.f("fk_venues_round_pitch_pitch_id_venues_pitch")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["venues_allocation_round.id"],
            name=op.f("fk_venues_round_pitch_round_id_venues_allocation_round"),
        ),
        sa.PrimaryKeyConstraint("round_id", "pitch_id", name=op.f("pk_venues_round_pitch")),
    )


def downgrade() -> None:
    op.drop_table("venues_round_pitch")
    op.drop_index(
        "ix_venues_road_occupancy_period_during", table_name="venues_road_occupancy_period", postgresql_using="gist"
    )
    op.drop_table("venues_road_occupancy_period")
    op.drop_table("venues_pitch_revision")
    op.drop_index("ix_venues_allocation_vendor", table_name="venues_allocation")
    op.drop_index(op.f("ix_venues_allocation_round_id"), table_name="venues_allocation")
    op.drop_index(op.f("ix_venues_allocation_pitch_id"), table_name="venues_allocation")
    op.drop_table("venues_allocation")
    op.drop_table("venues_venue_revision")
    op.drop_index(op.f("ix_venues_round_application_vendor_id"), table_name="venues_round_application")
    op.drop_table("venues_round_application")
    op.drop_index("ix_venues_road_occupancy_zone_status", table_name="venues_road_occupancy")
    op.drop_index(op.f("ix_venues_road_occupancy_vendor_id"), table_name="venues_road_occupancy")
    op.drop_table("venues_road_occupancy")
    op.drop_index(op.f("ix_venues_pitch_venue_id"), table_name="venues_pitch")
    op.drop_table("venues_pitch")
    op.drop_table("venues_holder")
    op.drop_index("ix_venues_venue_jurisdiction_kind", table_name="venues_venue")
    op.drop_index("ix_venues_venue_bbox", table_name="venues_venue")
    op.drop_table("venues_venue")
    op.drop_index(op.f("ix_venues_restricted_feature_jurisdiction_code"), table_name="venues_restricted_feature")
    op.drop_index("ix_venues_restricted_feature_bbox", table_name="venues_restricted_feature")
    op.drop_table("venues_restricted_feature")
    op.drop_index("ix_venues_allocation_round_jurisdiction", table_name="venues_allocation_round")
    op.drop_table("venues_allocation_round")
    op.drop_table("venues_change_counter")
