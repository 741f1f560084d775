"""Venues: the places where vending may happen, established, amended and closed by their street office.

Who: a street office inside its own jurisdiction (another jurisdiction's venue, or a venue in a jurisdiction
code that is not theirs, is a 404 that reveals nothing), admins anywhere; everyone may read.

Every write — establishing, amending, a status change — raises `version` by one, appends a `VenueRevision`
holding the venue as it then stood, and bumps the one-row venue-change counter in the same transaction: the
designated-place index of every process compares that counter on each lookup, and decisions cite
`(venue_id, revision)`.

Rules a schema cannot say (each a 422 naming the field):
- the geometry is a valid Polygon/MultiPolygon inside the jurisdiction's boundary (`outside_jurisdiction`),
  of at most `MAX_VENUE_AREA_M2`;
- `designation` only on a designated zone, by a county-level (or higher) government (`designation_authority`
  below), on a date not in the future; `joint_approval`, `carriageway` and `sidewalk_width_m` only on road
  zones; `min_clearance_m` no less than the siting rules' walkway;
- `valid_to` not before `valid_from`; a status other than open needs a reason, and `until` after `from`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, cast

import msgspec
import shapely
from shapely.geometry import shape as shape_of
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.errors import FieldError, InvalidInput, InvalidParameter
from core.geojson import CoordinateSystem, Geometry
from core.pagination import Page, keyset_page
from registry.errors import JurisdictionNotFound
from registry.models import Jurisdiction
from venues import geo, siting
from venues.access import managed_by
from venues.errors import GeometryOutsideJurisdiction, VenueNotFound
from venues.models import PlaceStatus, Venue, VenueRevision
from venues.schedule import Window
from venues.siting import VenueKind

# A venue is a street block's market or a community hall, not a district: 1 km² is far above any real one
# (the largest Beijing night markets cover a few hectares) and keeps every siting check's geometry small.
MAX_VENUE_AREA_M2: Final = 1_000_000.0
# The dates a venue plan may name: a year-1 `valid_from` or a year-9999 approval is a typing slip, not a plan
# (and dates near the ends of the calendar overflow the day arithmetic of schedules and rounds).
EARLIEST_DATE: Final = dt.date(2000, 1, 1)
LATEST_DATE: Final = dt.date(2100, 12, 31)
# Coordinates carry about a centimetre; a venue drawn along its jurisdiction's edge may poke out by a sliver.
_OUTSIDE_TOLERANCE_M2: Final = 0.01

# 无证无照经营查处办法 Art. 3: places are designated by 县级以上地方人民政府 (a county-level or higher local
# people's government). The authority must therefore be named as such a government: a name ending in
# 人民政府 whose division is a province, autonomous region, municipality or city, prefecture, league,
# autonomous prefecture, county, autonomous county, banner, district, special or forest district — or the
# State Council. A street office (街道办事处), a town (镇) or a township (乡, 苏木) government manages but
# cannot designate; nor can a department (城管局, 市场监管局), which acts for the government but is not it.
_COUNTY_OR_HIGHER: Final = re.compile(
    r"^(?:国务院|\S+(?:省|自治区|市|自治州|州|地区|盟|县|自治县|旗|自治旗|区|特区|林区)人民政府)$"
)
_BELOW_COUNTY: Final = re.compile(r"(?:街道|街道办事处|镇|乡|苏木)人民政府$|街道办事处|街道办$")

RoadRequests = Literal["approved_at_once", "permit_flow"]
DesignationStatus = Literal["designated", "proposed"]

DocumentText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Designation(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who designated a zone, by which document, when (无证无照经营查处办法 Art. 3)."""

    authority: Annotated[
        str,
        msgspec.Meta(
            min_length=2,
            max_length=100,
            description="The county-level (or higher) people's government, e.g. 北京市东城区人民政府",
        ),
    ]
    document_number: DocumentText
    designated_on: dt.date


class JointApproval(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The road authority's and the traffic police's approval of a sidewalk zone (城市道路管理条例 Art. 31)."""

    road_authority_document: DocumentText
    traffic_police_document: DocumentText
    valid_to: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class VenuePlan:
    """A venue as it would stand after a write: checked as a whole before any column changes."""

    name: str
    kind: VenueKind
    jurisdiction_code: str
    shape: geo.Shape | None  # None until the geometry is read (after the caller's scope is known)
    schedule: Sequence[Window]
    closed_dates: Sequence[dt.date]
    valid_from: dt.date
    valid_to: dt.date | None
    allowed_categories: Sequence[str]
    carriageway: bool = False
    min_clearance_m: float | None = None
    sidewalk_width_m: float | None = None
    capacity: int | None = None
    designation: Designation | None = None
    joint_approval: JointApproval | None = None


# --- geometry at the edge -----------------------------------------------------------------------------------


def area_shape(
    geometry: Geometry | Mapping[str, Any], *, field: str = "geometry", coordinate_system: CoordinateSystem = "wgs84"
) -> geo.Shape:
    """A checked WGS84 Polygon/MultiPolygon, or a 422 naming the field with the reason (shapely's if invalid)."""
    shape = any_shape(geometry, field=field, coordinate_system=coordinate_system)
    if shape.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidInput.for_field(f"{field}.type", "must be Polygon or MultiPolygon")
    return shape


def any_shape(
    geometry: Geometry | Mapping[str, Any], *, field: str = "geometry", coordinate_system: CoordinateSystem = "wgs84"
) -> geo.Shape:
    """A checked WGS84 Point, Polygon or MultiPolygon, or a 422 naming the field."""
    try:
        return geo.to_shape(geometry, field=field, coordinate_system=coordinate_system)
    except geo.GeometryError as exc:
        raise InvalidInput.for_field(exc.field, exc.reason) from None


def footprint_columns(shape: geo.Shape) -> dict[str, Any]:
    """The stored geometry, its bounding box and its area in m² (point: 0)."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    return {
        "geometry": msgspec.to_builtins(geo.to_geojson(shape)),
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "area_m2": round(geo.area_m2(shape), 3),
    }


# --- reading ------------------------------------------------------------------------------------------------


async def get_venue(session: AsyncSession, venue_id: uuid.UUID) -> Venue:
    """One venue (public)."""
    venue = await session.get(Venue, venue_id)
    if venue is None:
        raise VenueNotFound()
    return venue


async def get_managed_venue(
    session: AsyncSession, principal: Principal, venue_id: uuid.UUID, *, lock: bool = False
) -> Venue:
    """A venue the caller manages (404 for any other), optionally locked `FOR UPDATE` until the transaction ends.

    The lock serialises every write that checks the venue's contents (pitches overlapping, occupancies).
    """
    query = select(Venue).where(Venue.id == venue_id, managed_by(principal, Venue.jurisdiction_code))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    venue = await session.scalar(query)
    if venue is None:
        raise VenueNotFound()
    return venue


@dataclass(frozen=True, slots=True)
class Bbox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


# Degrees in range, by pattern, so a longitude over 180 or a latitude over 90 is malformed (400) as API.md's
# conventions want of an out-of-range parameter; only the order of the corners is a rule (422).
_LON: Final = r"-?(?:180(?:\.0{1,17})?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]{1,17})?)"
_LAT: Final = r"-?(?:90(?:\.0{1,17})?|[0-8]?[0-9](?:\.[0-9]{1,17})?)"
BBOX_PATTERN: Final = rf"^{_LON},{_LAT},{_LON},{_LAT}$"


def parse_bbox(value: str, *, field: str = "bbox") -> Bbox:
    """`minLon,minLat,maxLon,maxLat` in WGS84 degrees: not four numbers in range → 400; min > max → 422.

    The order is a 422 (like a forged cursor) because a schema's pattern cannot say it: a request the schema
    allows must not be refused as malformed.
    """
    parts = value.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not re.fullmatch(BBOX_PATTERN, value):
        raise InvalidParameter.for_field(
            field, "must be four numbers minLon,minLat,maxLon,maxLat, longitudes in [-180, 180], latitudes in [-90, 90]"
        )
    min_lon, min_lat, max_lon, max_lat = numbers
    if min_lon > max_lon or min_lat > max_lat:
        raise InvalidInput.for_field(field, "minLon must not exceed maxLon, nor minLat maxLat")
    return Bbox(min_lon, min_lat, max_lon, max_lat)


async def list_venues(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None = None,
    jurisdiction_code: str | None = None,
    kind: VenueKind | None = None,
    bbox: Bbox | None = None,
) -> Page[Venue]:
    """Venues by jurisdiction, kind and bounding box (boxes that meet it), oldest first (public)."""
    query = select(Venue)
    if jurisdiction_code is not None:
        query = query.where(Venue.jurisdiction_code == jurisdiction_code)
    if kind is not None:
        query = query.where(Venue.kind == kind)
    if bbox is not None:
        query = query.where(
            Venue.max_lon >= bbox.min_lon,
            Venue.min_lon <= bbox.max_lon,
            Venue.max_lat >= bbox.min_lat,
            Venue.min_lat <= bbox.max_lat,
        )
    return await keyset_page(
        session,
        query,
        (Venue.created_at, Venue.id),
        limit=limit,
        cursor=cursor,
        key=lambda venue: (venue.created_at, venue.id),
    )


# --- what a venue means ---------------------------------------------------------------------------------------


def designation_of(venue: Venue) -> Designation | None:
    if venue.designation_authority is None or venue.designation_document_number is None or not venue.designated_on:
        return None
    return Designation(
        authority=venue.designation_authority,
        document_number=venue.designation_document_number,
        designated_on=venue.designated_on,
    )


def joint_approval_of(venue: Venue) -> JointApproval | None:
    road, police, valid_to = (
        venue.joint_approval_road_document,
        venue.joint_approval_police_document,
        venue.joint_approval_valid_to,
    )
    if road is None or police is None or valid_to is None:
        return None
    return JointApproval(road_authority_document=road, traffic_police_document=police, valid_to=valid_to)


def designation_status(venue: Venue) -> DesignationStatus | None:
    """A designated zone exempts activities only once designated; without a designation it is proposed."""
    if venue.kind != "designated_zone":
        return None
    return "designated" if venue.designation_authority is not None else "proposed"


def road_requests(venue: Venue, today: dt.date) -> RoadRequests | None:
    """How a road zone decides occupancy requests on `today` (城市道路管理条例 Art. 31).

    At once only on a sidewalk zone whose joint approval of road authority and traffic police runs through
    today; a carriageway, a zone without joint approval and one whose approval has lapsed go to the permits.
    """
    if venue.kind != "road_zone":
        return None
    approved = venue.joint_approval_valid_to is not None and venue.joint_approval_valid_to >= today
    return "approved_at_once" if approved and not venue.is_carriageway else "permit_flow"


def current_status(
    status: str, status_from: dt.datetime | None, status_until: dt.datetime | None, now: dt.datetime
) -> PlaceStatus:
    """The standing of a venue or pitch at `now`: a suspension or closure counts from its `from` (and a
    suspension until its `until`); before or after that, the place is open."""
    if status == "open" or (status_from is not None and now < status_from):
        return "open"
    if status == "suspended" and status_until is not None and now >= status_until:
        return "open"
    return "suspended" if status == "suspended" else "closed"


# --- checking a plan ------------------------------------------------------------------------------------------


def check_designation_authority(authority: str) -> str | None:
    """Why `authority` cannot designate a place (None if it can): it must be a county-level or higher
    people's government (无证无照经营查处办法 Art. 3)."""
    name = authority.strip()
    if _BELOW_COUNTY.search(name):
        return (
            "a street office, town or township manages a zone but cannot designate it; name the county-level "
            "(or higher) people's government that did (无证无照经营查处办法 Art. 3), e.g. 北京市东城区人民政府"
        )
    if not _COUNTY_OR_HIGHER.fullmatch(name):
        return (
            "must name the county-level (or higher) people's government that designated the zone, ending in "
            "人民政府, e.g. 北京市东城区人民政府 (无证无照经营查处办法 Art. 3)"
        )
    return None


def plan_errors(plan: VenuePlan, *, today: dt.date) -> list[FieldError]:
    """Every rule a venue plan breaks, naming the field (the geometry's place in its jurisdiction apart)."""
    errors: list[FieldError] = []
    if plan.shape is None:
        raise ValueError("the plan's geometry has not been read")
    if not plan.name.strip():
        errors.append(FieldError("name", "must not be blank"))
    area = geo.area_m2(plan.shape)
    if area > MAX_VENUE_AREA_M2:
        errors.append(
            FieldError("geometry", f"covers {area:.0f} m²; a venue may cover at most {MAX_VENUE_AREA_M2:.0f} m²")
        )
    dates = [("valid_from", plan.valid_from), ("valid_to", plan.valid_to)]
    dates += [(f"closed_dates[{i}]", day) for i, day in enumerate(plan.closed_dates)]
    if plan.designation is not None:
        dates.append(("designation.designated_on", plan.designation.designated_on))
    if plan.joint_approval is not None:
        dates.append(("joint_approval.valid_to", plan.joint_approval.valid_to))
    for field, day in dates:
        if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
            errors.append(FieldError(field, f"must be between {EARLIEST_DATE} and {LATEST_DATE}"))
    if plan.valid_to is not None and plan.valid_to < plan.valid_from:
        errors.append(FieldError("valid_to", "must not be before valid_from"))
    if len(set(plan.allowed_categories)) != len(plan.allowed_categories):
        errors.append(FieldError("allowed_categories", "must not repeat a category"))
    if plan.designation is not None:
        if plan.kind != "designated_zone":
            errors.append(FieldError("designation", "is only for designated_zone venues"))
        why = check_designation_authority(plan.designation.authority)
        if why is not None:
            errors.append(FieldError("designation.authority", why))
        if plan.designation.designated_on > today:
            errors.append(FieldError("designation.designated_on", "must not be in the future"))
    if plan.kind != "road_zone":
        for name, value in (
            ("joint_approval", plan.joint_approval),
            ("carriageway", plan.carriageway or None),
            ("sidewalk_width_m", plan.sidewalk_width_m),
            ("min_clearance_m", plan.min_clearance_m),
        ):
            if value is not None:
                errors.append(FieldError(name, "is only for road_zone venues"))
    elif plan.min_clearance_m is not None:
        least = siting.load_siting_rules().min_walkway_m
        if plan.min_clearance_m < least:
            errors.append(FieldError("min_clearance_m", f"must be at least {least} m, the siting rules' walkway"))
    return errors


async def _jurisdiction_shape(session: AsyncSession, principal: Principal, code: str) -> geo.Shape:
    """The boundary of a jurisdiction the caller may act in (404 otherwise, whether or not it exists)."""
    if principal.role == "street_office" and code != principal.jurisdiction_code:
        raise JurisdictionNotFound()
    jurisdiction = await session.get(Jurisdiction, code)
    if jurisdiction is None:
        raise JurisdictionNotFound()
    return shape_of(jurisdiction.boundary)


def check_inside(shape: geo.Shape, boundary: geo.Shape, *, field: str = "geometry") -> None:
    """Refuse a shape that pokes out of its jurisdiction's boundary by more than a centimetre's sliver."""
    projection = geo.projection_of(shape)
    outside = geo.area_m2(shapely.difference(shape, boundary), projection=projection)
    inside = bool(boundary.covers(shape)) if shape.geom_type == "Point" else outside <= _OUTSIDE_TOLERANCE_M2
    if not inside:
        detail = "lies outside the jurisdiction's boundary"
        if shape.geom_type != "Point":
            detail = f"{outside:.2f} m² of it {detail}"
        raise GeometryOutsideJurisdiction(f"{field}: {detail}", errors=[FieldError(field, detail)])


async def _check_plan(
    session: AsyncSession,
    principal: Principal,
    plan: VenuePlan,
    *,
    geometry: Geometry | None,
    coordinate_system: CoordinateSystem,
    today: dt.date,
) -> VenuePlan:
    """The plan with its geometry read, once the caller may act in its jurisdiction (404 first), checked."""
    boundary = await _jurisdiction_shape(session, principal, plan.jurisdiction_code)
    if geometry is not None:
        plan = dataclasses.replace(plan, shape=area_shape(geometry, coordinate_system=coordinate_system))
    errors = plan_errors(plan, today=today)
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    check_inside(cast(geo.Shape, plan.shape), boundary)  # plan_errors refuses a plan without one
    return plan


# --- writing --------------------------------------------------------------------------------------------------


def _columns(plan: VenuePlan) -> dict[str, Any]:
    designation, approval = plan.designation, plan.joint_approval
    if plan.shape is None:
        raise ValueError("the plan's geometry has not been read")
    return {
        "name": plan.name.strip(),
        "kind": plan.kind,
        "jurisdiction_code": plan.jurisdiction_code,
        **footprint_columns(plan.shape),
        "schedule": [msgspec.to_builtins(window) for window in plan.schedule],
        "closed_dates": sorted(set(plan.closed_dates)),
        "valid_from": plan.valid_from,
        "valid_to": plan.valid_to,
        "allowed_categories": sorted(plan.allowed_categories),
        "is_carriageway": plan.carriageway,
        "min_clearance_m": plan.min_clearance_m,
        "sidewalk_width_m": plan.sidewalk_width_m,
        "capacity": plan.capacity,
        "designation_authority": designation.authority.strip() if designation else None,
        "designation_document_number": designation.document_number if designation else None,
        "designated_on": designation.designated_on if designation else None,
        "joint_approval_road_document": approval.road_authority_document if approval else None,
        "joint_approval_police_document": approval.traffic_police_document if approval else None,
        "joint_approval_valid_to": approval.valid_to if approval else None,
    }


def plan_of(venue: Venue) -> VenuePlan:
    """The venue as it stands, as a plan an amendment replaces fields of."""
    return VenuePlan(
        name=venue.name,
        kind=cast(VenueKind, venue.kind),  # CHECK kind_known
        jurisdiction_code=venue.jurisdiction_code,
        shape=geo.to_shape(venue.geometry),
        schedule=[msgspec.convert(window, Window) for window in venue.schedule],
        closed_dates=list(venue.closed_dates or []),
        valid_from=venue.valid_from,
        valid_to=venue.valid_to,
        allowed_categories=list(venue.allowed_categories),
        carriageway=venue.is_carriageway,
        min_clearance_m=venue.min_clearance_m,
        sidewalk_width_m=venue.sidewalk_width_m,
        capacity=venue.capacity,
        designation=designation_of(venue),
        joint_approval=joint_approval_of(venue),
    )


_SNAPSHOT_COLUMNS: Final = (
    "name",
    "kind",
    "jurisdiction_code",
    "geometry",
    "area_m2",
    "schedule",
    "valid_from",
    "valid_to",
    "allowed_categories",
    "is_carriageway",
    "min_clearance_m",
    "sidewalk_width_m",
    "capacity",
    "designation_authority",
    "designation_document_number",
    "designated_on",
    "joint_approval_road_document",
    "joint_approval_police_document",
    "joint_approval_valid_to",
    "status",
    "status_reason",
    "status_from",
    "status_until",
)


def snapshot(venue: Venue) -> dict[str, Any]:
    """The venue's business fields as JSON: what a revision keeps."""
    values: dict[str, Any] = {name: getattr(venue, name) for name in _SNAPSHOT_COLUMNS}
    values["closed_dates"] = list(venue.closed_dates or [])
    result: dict[str, Any] = msgspec.to_builtins(values)
    return result


_BUMP_COUNTER: Final = text("UPDATE venues_change_counter SET counter = counter + 1")


async def record_revision(
    session: AsyncSession, venue: Venue, *, change: str, reason: str | None, actor: uuid.UUID
) -> None:
    """Append the revision `venue.version` and bump the venue-change counter, in the caller's transaction."""
    session.add(
        VenueRevision(
            venue_id=venue.id,
            revision=venue.version,
            snapshot=snapshot(venue),
            change=change,
            reason=reason,
            changed_by=actor,
        )
    )
    await session.execute(_BUMP_COUNTER)
    await session.flush()


async def establish_venue(
    session: AsyncSession,
    principal: Principal,
    plan: VenuePlan,
    *,
    geometry: Geometry,
    coordinate_system: CoordinateSystem = "wgs84",
    now: dt.datetime,
    today: dt.date,
) -> Venue:
    """Establish a venue in the caller's jurisdiction (street office) or any (admin), at revision 1."""
    require_role(principal, "street_office", "admin")
    plan = await _check_plan(
        session, principal, plan, geometry=geometry, coordinate_system=coordinate_system, today=today
    )
    venue = Venue(
        id=uuid.uuid4(),
        **_columns(plan),
        status="open",
        version=1,
        created_by=principal.account_id,
        created_at=now,
        updated_at=now,
    )
    session.add(venue)
    await session.flush()
    await record_revision(session, venue, change="established", reason=None, actor=principal.account_id)
    return venue


# The fields an amendment may change (the jurisdiction and the kind define the venue: a new one is established).
AMENDABLE: Final = frozenset(
    {
        "name",
        "schedule",
        "closed_dates",
        "valid_from",
        "valid_to",
        "allowed_categories",
        "carriageway",
        "min_clearance_m",
        "sidewalk_width_m",
        "capacity",
        "designation",
        "joint_approval",
    }
)


async def amend_venue(
    session: AsyncSession,
    principal: Principal,
    venue_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    geometry: Geometry | None = None,
    coordinate_system: CoordinateSystem = "wgs84",
    precondition: Precondition,
    reason: str | None,
    now: dt.datetime,
    today: dt.date,
) -> Venue:
    """Change some fields of a venue the caller manages; the whole venue is checked again as it would stand.

    Order: 404 outside the caller's jurisdiction, then If-Match (428/412), then the rules (422). Pitches
    already drawn keep the revision they were checked against; a smaller venue does not move them. When
    nothing would change, the venue is answered as it stands (no new version, revision or counter bump).
    """
    venue = await get_managed_venue(session, principal, venue_id, lock=True)
    precondition.check(venue.version, what="venue")
    unknown = set(changes) - AMENDABLE
    if unknown:
        raise ValueError(f"not amendable: {sorted(unknown)}")
    if not changes and geometry is None:
        return venue  # nothing to change: same version and ETag, no revision, no counter bump
    plan = dataclasses.replace(plan_of(venue), **changes)
    plan = await _check_plan(
        session, principal, plan, geometry=geometry, coordinate_system=coordinate_system, today=today
    )
    changed = {column: value for column, value in _columns(plan).items() if getattr(venue, column) != value}
    if not changed:
        return venue  # every field given as it already stands
    for column, value in changed.items():
        setattr(venue, column, value)
    venue.version += 1
    venue.updated_at = now
    await record_revision(session, venue, change="amended", reason=reason, actor=principal.account_id)
    return venue


def status_errors(
    status: PlaceStatus,
    reason: str | None,
    status_from: dt.datetime | None,
    until: dt.datetime | None,
    *,
    now: dt.datetime,
) -> list[FieldError]:
    """A status other than open says why; a suspension may end (`until` after `from`, or after now without
    one); a closure does not."""
    errors: list[FieldError] = []
    if status != "open" and (reason is None or not reason.strip()):
        errors.append(FieldError("reason", f"is required to make it {status}"))
    if status == "open" and (status_from is not None or until is not None):
        errors.append(FieldError("from" if status_from is not None else "until", "is only for suspended or closed"))
    if status == "closed" and until is not None:
        errors.append(FieldError("until", "a closure has no end; reopen with status open"))
    if until is not None and until <= (status_from or now):
        errors.append(FieldError("until", "must be after from" if status_from is not None else "must be in the future"))
    return errors


async def change_venue_status(
    session: AsyncSession,
    principal: Principal,
    venue_id: uuid.UUID,
    *,
    status: PlaceStatus,
    reason: str | None,
    status_from: dt.datetime | None,
    until: dt.datetime | None,
    precondition: Precondition,
    now: dt.datetime,
) -> Venue:
    """Open, suspend (for a period, or until further notice) or close a venue, saying why.

    A closed venue takes no new pitches, applications or road requests; holders see the status and reason.
    Without `from`, the change takes effect now.
    """
    venue = await get_managed_venue(session, principal, venue_id, lock=True)
    precondition.check(venue.version, what="venue")
    errors = status_errors(status, reason, status_from, until, now=now)
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    venue.status = status
    venue.status_reason = reason.strip() if reason and status != "open" else None
    venue.status_from = (status_from or now) if status != "open" else None
    venue.status_until = until if status == "suspended" else None
    venue.version += 1
    venue.updated_at = now
    await record_revision(session, venue, change=f"status {status}", reason=reason, actor=principal.account_id)
    return venue
