"""Tables of venues: places and their revisions, pitches, restricted features, allocation rounds and their
applications and allocations, road occupancies, and the venue-change counter the designated-place index reads.

Geometry is stored as validated WGS84 GeoJSON (JSONB) with its bounding box in four float columns: lists and
"what is near" filter on the box with a plain B-tree, shapely measures the rest (no PostGIS in the embedded
server). Races the database must decide:

- a pitch allocated twice for overlapping terms, and a vendor holding two pitches in one term: GiST exclusion
  constraints over one-value `int8range`s of integer keys beside the term's `daterange` (STYLE.md: the form that
  works without btree_gist);
- a pitch offered in two rounds with overlapping terms: the same form on the round's pitches;
- overlapping pitches, or occupancies of a zone overlapping in space and time: geometry decides, so the service
  locks the venue row (`SELECT … FOR UPDATE`), checks, and inserts in the same transaction;
- one application per vendor per round, one draw per round: unique constraints.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, one_of
from registry.catalogue import CATEGORIES
from venues.siting import FEATURE_KINDS, VenueKind

VENUE_KINDS: Final[tuple[VenueKind, ...]] = get_args(VenueKind)
# A place's own standing: open, suspended for a period (it comes back), closed for good from a date.
PlaceStatus = Literal["open", "suspended", "closed"]
PLACE_STATUSES: Final[tuple[PlaceStatus, ...]] = get_args(PlaceStatus)
RoundStatus = Literal["open", "closed", "drawn"]
ROUND_STATUSES: Final[tuple[RoundStatus, ...]] = get_args(RoundStatus)
AllocationStatus = Literal["held", "released"]
ALLOCATION_STATUSES: Final[tuple[AllocationStatus, ...]] = get_args(AllocationStatus)
# How an allocation came about: the draw, or a released pitch passed down the waiting list.
AllocationSource = Literal["draw", "waiting_list"]
ALLOCATION_SOURCES: Final[tuple[AllocationSource, ...]] = get_args(AllocationSource)
OccupancyStatus = Literal["approved", "pending_permit", "refused", "withdrawn", "revoked"]
OCCUPANCY_STATUSES: Final[tuple[OccupancyStatus, ...]] = get_args(OccupancyStatus)
# Occupancies that hold their footprint and period against others (pending ones hold their slot too).
HOLDING_OCCUPANCY_STATUSES: Final[tuple[OccupancyStatus, ...]] = ("approved", "pending_permit")


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _categories_known() -> CheckConstraint:
    listed = ", ".join(f"'{category}'" for category in sorted(CATEGORIES))
    return CheckConstraint(
        f"cardinality(allowed_categories) >= 1 AND allowed_categories <@ ARRAY[{listed}]::text[]",
        name="categories_known",
    )


def _bbox_check() -> CheckConstraint:
    return CheckConstraint("min_lon <= max_lon AND min_lat <= max_lat", name="bbox_ordered")


class Venue(Base):
    """A place where vending may happen: a community space, a designated zone or a road zone.

    `version` is also the revision number: every edit or status change writes a `VenueRevision` with the
    venue as it then stood, and every decision that used the venue stores the revision it used.
    """

    __tablename__ = "venues_venue"
    __table_args__ = (
        one_of("kind", VENUE_KINDS, name="kind_known"),
        one_of("status", PLACE_STATUSES, name="status_known"),
        _categories_known(),
        _bbox_check(),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_to_after_from"),
        CheckConstraint(
            "status_until IS NULL OR status_from IS NULL OR status_until > status_from", name="status_period"
        ),
        CheckConstraint(
            "kind = 'designated_zone' OR designation_authority IS NULL", name="designation_only_on_designated_zones"
        ),
        CheckConstraint(
            "(designation_authority IS NULL) = (designation_document_number IS NULL)"
            " AND (designation_authority IS NULL) = (designated_on IS NULL)",
            name="designation_complete",
        ),
        CheckConstraint(
            "kind = 'road_zone' OR (joint_approval_road_document IS NULL AND NOT is_carriageway)",
            name="road_fields_only_on_road_zones",
        ),
        CheckConstraint(
            "(joint_approval_road_document IS NULL) = (joint_approval_police_document IS NULL)"
            " AND (joint_approval_road_document IS NULL) = (joint_approval_valid_to IS NULL)",
            name="joint_approval_complete",
        ),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        Index("ix_venues_venue_jurisdiction_kind", "jurisdiction_code", "kind", "id"),
        Index("ix_venues_venue_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    # [{days: [1..7], start: "HH:MM", end: "HH:MM"}] in the city's time; end before start runs past midnight.
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    closed_dates: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), server_default=text("'{}'"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    allowed_categories: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Road zones: a carriageway always goes to the permit flow; a sidewalk's width may be stated.
    is_carriageway: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    sidewalk_width_m: Mapped[float | None] = mapped_column(Float)
    min_clearance_m: Mapped[float | None] = mapped_column(Float)
    # How many occupancies the zone takes at once (None: as many as fit).
    capacity: Mapped[int | None] = mapped_column(Integer)
    # 无证无照经营查处办法 Art. 3: only a county-level (or higher) government designates; without it: proposed.
    designation_authority: Mapped[str | None] = mapped_column(Text)
    designation_document_number: Mapped[str | None] = mapped_column(Text)
    designated_on: Mapped[dt.date | None] = mapped_column(Date)
    # 城市道路管理条例 Art. 31: the road authority and the traffic police both approve the zone.
    joint_approval_road_document: Mapped[str | None] = mapped_column(Text)
    joint_approval_police_document: Mapped[str | None] = mapped_column(Text)
    joint_approval_valid_to: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()


class VenueRevision(Base):
    """The venue as it stood at one revision (append-only): decisions cite `(venue_id, revision)`."""

    __tablename__ = "venues_venue_revision"

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_venue.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    change: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    changed_at: Mapped[dt.datetime] = _now()


class VenueChangeCounter(Base):
    """One row, bumped in the same transaction as every venue write: each process's designated-place index
    compares it on every lookup and rebuilds when it moved, so no process answers from a stale index."""

    __tablename__ = "venues_change_counter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Pitch(Base):
    """A marked place for one stall inside a venue, checked against the siting rules when drawn."""

    __tablename__ = "venues_pitch"
    __table_args__ = (
        one_of("status", PLACE_STATUSES, name="status_known"),
        _bbox_check(),
        UniqueConstraint("venue_id", "label"),
        CheckConstraint(
            "status_until IS NULL OR status_from IS NULL OR status_until > status_from", name="status_period"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The integer key the exclusion constraints compare (a one-value int8range; no btree_gist for uuids).
    pitch_no: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_venue.id"), index=True)
    venue_revision: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(40))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    # The siting checks it passed, as reported, and the rules version they used.
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rules_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()


class PitchRevision(Base):
    """The pitch as it stood at one revision (append-only)."""

    __tablename__ = "venues_pitch_revision"

    pitch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_pitch.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue_revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    change: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    changed_at: Mapped[dt.datetime] = _now()


class RestrictedFeature(Base):
    """A hydrant, school gate, fire lane…: pitches and occupancies keep their buffer (siting rules data)."""

    __tablename__ = "venues_restricted_feature"
    __table_args__ = (
        one_of("kind", FEATURE_KINDS, name="kind_known"),
        _bbox_check(),
        CheckConstraint("buffer_m IS NULL OR (buffer_m >= 0 AND buffer_m <= 1000)", name="buffer_in_range"),
        Index("ix_venues_restricted_feature_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(Text)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSONB)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    # Overrides the rules' buffer for this one feature (all categories).
    buffer_m: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    created_at: Mapped[dt.datetime] = _now()
    updated_at: Mapped[dt.datetime] = _now()


class AllocationRound(Base):
    """A round handing out free pitches for one term by the published draw (docs/draw.md).

    `seed` stays secret until the draw; only `seed_commitment` is shown before. With a beacon, the draw
    needs its value, which exists only after the close. `result` is stored uncompressed (STORAGE EXTERNAL,
    migration 0006): hex digests and UUIDs hardly compress, and pglz's attempt cost more than the rest of saving.
    """

    __tablename__ = "venues_allocation_round"
    __table_args__ = (
        CheckConstraint("term_end >= term_start", name="term_ordered"),
        CheckConstraint("octet_length(seed) = 32", name="seed_is_32_bytes"),
        CheckConstraint("(beacon_description IS NULL) = (beacon_available_after IS NULL)", name="beacon_complete"),
        CheckConstraint("beacon_value IS NULL OR beacon_description IS NOT NULL", name="beacon_value_needs_beacon"),
        CheckConstraint("(drawn_at IS NULL) = (result IS NULL)", name="drawn_has_result"),
        Index("ix_venues_allocation_round_jurisdiction", "jurisdiction_code", "applications_close_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("registry_jurisdiction.code"))
    name: Mapped[str] = mapped_column(Text)
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date] = mapped_column(Date)
    applications_close_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Tier n (1 first) holds vendors with a verified claim to any group of priority_tiers[n-1]; then everyone.
    priority_tiers: Mapped[list[list[str]]] = mapped_column(JSONB)
    seed: Mapped[bytes] = mapped_column(LargeBinary)
    seed_commitment: Mapped[str] = mapped_column(String(64))
    beacon_description: Mapped[str | None] = mapped_column(Text)
    beacon_available_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    beacon_value: Mapped[str | None] = mapped_column(Text)
    applications_digest: Mapped[str | None] = mapped_column(String(64))
    # The public results (draw.DrawResult as JSON), written once by the draw.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    drawn_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("registry_account.id"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_account.id"))
    created_at: Mapped[dt.datetime] = _now()


class RoundPitch(Base):
    """A pitch offered in a round; a pitch is in at most one round per overlapping term."""

    __tablename__ = "venues_round_pitch"
    __table_args__ = (
        CheckConstraint("term_end >= term_start", name="term_ordered"),
        ExcludeConstraint(
            (text("int8range(pitch_no, pitch_no, '[]')"), "&&"),
            (text("daterange(term_start, term_end, '[]')"), "&&"),
            name="ex_venues_round_pitch_term",
            using="gist",
        ),
    )

    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_allocation_round.id"), primary_key=True)
    pitch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_pitch.id"), primary_key=True)
    pitch_no: Mapped[int] = mapped_column(BigInteger)
    # The round's term, copied so the exclusion constraint can see it.
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer)


class Holder(Base):
    """A vendor's integer key for exclusion constraints ("one pitch per vendor per term")."""

    __tablename__ = "venues_holder"

    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), primary_key=True)
    holder_no: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)


class RoundApplication(Base):
    """A vendor's application to a round: up to five ranked pitches, under a random per-round ref.

    The table leaves room on its pages (fillfactor 70, migration 0006) so the draw's one update of every tier
    stays a HOT update that touches no index.
    """

    __tablename__ = "venues_round_application"
    __table_args__ = (
        UniqueConstraint("round_id", "vendor_id"),
        UniqueConstraint("round_id", "applicant_ref"),
        CheckConstraint("cardinality(choices) BETWEEN 1 AND 5", name="one_to_five_choices"),
        CheckConstraint(
            "(tier IS NULL) = (position IS NULL) AND (position IS NULL OR position >= 1)", name="drawn_place"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_allocation_round.id"))
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), index=True)
    applicant_ref: Mapped[str] = mapped_column(String(32))
    choices: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    activity_code: Mapped[str | None] = mapped_column(String(64))
    # The tier the draw gave it (1 first), recorded with the draw; private (never in public results by group).
    tier: Mapped[int | None] = mapped_column(Integer)
    # Its place in the draw order (1 first), recorded with the draw; NULL before it, or when left out of it.
    position: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Allocation(Base):
    """A pitch held by a vendor for a term: from the draw, or passed down the waiting list on a release."""

    __tablename__ = "venues_allocation"
    __table_args__ = (
        one_of("status", ALLOCATION_STATUSES, name="status_known"),
        one_of("source", ALLOCATION_SOURCES, name="source_known"),
        CheckConstraint("term_end >= term_start", name="term_ordered"),
        CheckConstraint("(status = 'released') = (released_at IS NOT NULL)", name="released_has_time"),
        ExcludeConstraint(
            (text("int8range(pitch_no, pitch_no, '[]')"), "&&"),
            (text("daterange(term_start, term_end, '[]')"), "&&"),
            name="ex_venues_allocation_pitch_term",
            using="gist",
            where=text("status = 'held'"),
        ),
        ExcludeConstraint(
            (text("int8range(holder_no, holder_no, '[]')"), "&&"),
            (text("daterange(term_start, term_end, '[]')"), "&&"),
            name="ex_venues_allocation_holder_term",
            using="gist",
            where=text("status = 'held'"),
        ),
        Index("ix_venues_allocation_vendor", "vendor_id", "term_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_allocation_round.id"), index=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_round_application.id"))
    pitch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_pitch.id"), index=True)
    pitch_no: Mapped[int] = mapped_column(BigInteger)
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"))
    holder_no: Mapped[int] = mapped_column(BigInteger)
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date] = mapped_column(Date)
    choice_rank: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'held'"))
    created_at: Mapped[dt.datetime] = _now()
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The allocation this one passed down from, when a release gave the pitch to the waiting list.
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues_allocation.id"))


class RoadOccupancy(Base):
    """A vendor's request to occupy a footprint of a road zone for some periods (城市道路管理条例 Art. 31).

    Approved at once on a sidewalk zone with its joint approval; otherwise `pending_permit`, holding its slot,
    handed to the permit flow through `venues.road.PermitFlow`. Road occupation approved pays no fee (27号
    measure (5); Art. 37's fee waived).
    """

    __tablename__ = "venues_road_occupancy"
    __table_args__ = (
        one_of("status", OCCUPANCY_STATUSES, name="status_known"),
        _bbox_check(),
        CheckConstraint("fee_cny = 0", name="fee_waived"),
        CheckConstraint("status <> 'pending_permit' OR application_id IS NOT NULL", name="pending_has_application"),
        CheckConstraint("(status = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="withdrawn_has_time"),
        Index("ix_venues_road_occupancy_zone_status", "zone_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_venue.id"))
    venue_revision: Mapped[int] = mapped_column(Integer)
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registry_vendor.id"), index=True)
    activity_code: Mapped[str] = mapped_column(String(64))
    footprint: Mapped[dict[str, Any]] = mapped_column(JSONB)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    # The hull of its periods, for finding candidates that overlap in time with one index scan.
    span: Mapped[Any] = mapped_column(TSTZRANGE)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rules_version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    fee_cny: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    fee_exemption_basis: Mapped[str] = mapped_column(Text)
    # The permit application it waits on (permits' id; no foreign key: venues never imports permits).
    application_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = _now()
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When its holder withdrew it (a fact kept: the row is never deleted).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RoadOccupancyPeriod(Base):
    """One period of an occupancy (half-open [start, end))."""

    __tablename__ = "venues_road_occupancy_period"
    __table_args__ = (
        CheckConstraint("upper(during) > lower(during)", name="period_not_empty"),
        Index("ix_venues_road_occupancy_period_during", "during", postgresql_using="gist"),
    )

    occupancy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues_road_occupancy.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    during: Mapped[Any] = mapped_column(TSTZRANGE)
