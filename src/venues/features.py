"""Restricted features: hydrants, school gates, fire lanes… that pitches and occupancies keep clear of.

Who: a street office records and moves the features of its own jurisdiction (another's is a 404), admins
any (naming the jurisdiction); everyone may read them. A feature must at least touch its jurisdiction: a
fire lane may run on across the boundary, and checks measure every feature near a place whatever
jurisdiction it was recorded in.

Recording or moving a feature answers with the pitches it now affects: those that would fail
`clear_of_restricted` against it (closed pitches are left out), each with its distance and the distance
required, so the office can act on them. Nothing is moved or closed automatically.

"Near" is found in two steps: bounding boxes from the B-tree index, expanded by the buffer in metres
converted to degrees (conservatively: the fewest metres a degree can hold), then the exact measure.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import msgspec
from shapely.geometry import shape as shape_of
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.db import driver_connection
from core.errors import FieldError, InvalidInput
from core.geojson import CoordinateSystem, Geometry
from core.pagination import Page, keyset_page
from registry.errors import JurisdictionNotFound
from registry.models import Jurisdiction
from venues import geo, siting
from venues.access import managed_by
from venues.errors import GeometryOutsideJurisdiction, RestrictedFeatureNotFound
from venues.models import Pitch, RestrictedFeature, Venue
from venues.siting import FEATURE_KINDS, MAX_BUFFER_M, FeatureKind, SitingRules
from venues.venues import Bbox, any_shape, check_inside, footprint_columns

# The fewest metres one degree can hold: of latitude at the equator; of longitude at the equator, scaled by
# the cosine of the latitude farthest from it (spherical, which undercounts on the ellipsoid: conservative).
_M_PER_DEG_LAT: Final = 110_574.0
_M_PER_DEG_LON_EQUATOR: Final = 111_320.0
# Beyond the buffer, what rounding and the ~1 cm of coordinates could add.
_MARGIN_M: Final = 1.0


def degrees(metres: float, latitude: float) -> tuple[float, float]:
    """(Δlon, Δlat) in degrees that surely span `metres` around `latitude` (overestimates, never under)."""
    cos = max(math.cos(math.radians(min(abs(latitude), 89.0))), 1e-6)
    return metres / (_M_PER_DEG_LON_EQUATOR * cos), metres / _M_PER_DEG_LAT


def _expanded(bounds: tuple[float, float, float, float], metres: float) -> tuple[float, float, float, float]:
    min_lon, min_lat, max_lon, max_lat = bounds
    d_lon, d_lat = degrees(metres, max(abs(min_lat), abs(max_lat)))
    return min_lon - d_lon, min_lat - d_lat, max_lon + d_lon, max_lat + d_lat


def reach_by_kind(rules: SitingRules, categories: Iterable[str]) -> dict[str, float]:
    """Each kind's buffer for a venue allowing `categories` (the largest applies)."""
    cats = list(categories)
    return {kind: rules.buffer_m(kind, cats) for kind in FEATURE_KINDS}


def _widest_reach(rules: SitingRules, kind: str) -> float:
    """A kind's largest buffer over every category: how far away a pitch can be and still be affected."""
    rule = rules.kinds[kind]
    values = [rule.default_m, *(v for v in msgspec.to_builtins(rule.by_category).values() if v is not None)]
    return float(max(values))


def _boxes_meet(table: Any, bounds: tuple[float, float, float, float]) -> list[ColumnElement[bool]]:
    min_lon, min_lat, max_lon, max_lat = bounds
    return [table.max_lon >= min_lon, table.min_lon <= max_lon, table.max_lat >= min_lat, table.min_lat <= max_lat]


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """A restricted feature as the checks and the map read it (what `features_near` answers)."""

    id: uuid.UUID
    kind: str
    name: str | None
    geometry: dict[str, Any]
    buffer_m: float | None


# Hand-written and sent straight to the driver (core.db.driver_connection): features_near runs on every road
# request, pitch creation and map, and building and compiling the SQLAlchemy statement cost ~0.7 ms of CPU.
# The coarse box ($1–$4: the bounds expanded by the largest buffer) lets the B-tree index narrow; then each
# feature's own reach (its buffer_m, else the rules' buffer for its kind, $7/$8, else the largest), plus the
# margin ($9), in degrees per metre ($5, $6) at the box's latitude, against the bounds ($10–$13). The same
# double-precision arithmetic, in the same order, as the expression it replaced.
_NEAR_SQL: Final = """
SELECT id, kind, name, geometry, buffer_m
  FROM (SELECT id, kind, name, geometry, buffer_m, min_lon, min_lat, max_lon, max_lat,
               coalesce(buffer_m, coalesce(($7::float8[])[array_position($8::text[], kind::text)], $14::float8))
                 + $9::float8 AS reach
          FROM venues_restricted_feature
         WHERE max_lon >= $1::float8 AND min_lon <= $3::float8 AND max_lat >= $2::float8 AND min_lat <= $4::float8
       ) AS candidate
 WHERE max_lon >= $10::float8 - reach * $5::float8
   AND min_lon <= $12::float8 + reach * $5::float8
   AND max_lat >= $11::float8 - reach * $6::float8
   AND min_lat <= $13::float8 + reach * $6::float8
 ORDER BY id
"""


async def features_near(
    session: AsyncSession, bounds: tuple[float, float, float, float], categories: Iterable[str]
) -> list[FeatureRow]:
    """Features whose buffer (their own, or the rules' for these categories) may reach the box `bounds`.

    The index narrows to boxes within the largest possible buffer; each feature's own reach then filters,
    in degrees at the box's latitude. Exact distances are the caller's (siting) business.
    """
    rules = siting.load_siting_rules()
    reach = reach_by_kind(rules, categories)
    coarse = _expanded(bounds, MAX_BUFFER_M + _MARGIN_M)
    d_lon_per_m, d_lat_per_m = degrees(1.0, max(abs(bounds[1]), abs(bounds[3])))
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _NEAR_SQL,
        *coarse,
        d_lon_per_m,
        d_lat_per_m,
        list(reach.values()),
        list(reach),
        _MARGIN_M,
        *bounds,
        MAX_BUFFER_M,
    )
    return [FeatureRow(row[0], row[1], row[2], row[3], row[4]) for row in rows]


def as_siting_feature(feature: RestrictedFeature | FeatureRow) -> siting.Feature:
    return siting.Feature(
        ref=str(feature.id),
        kind=cast(FeatureKind, feature.kind),
        shape=geo.to_shape(feature.geometry),
        buffer_m=feature.buffer_m,
    )


# --- affected pitches ---------------------------------------------------------------------------------------


class AffectedPitch(msgspec.Struct, frozen=True, kw_only=True):
    """A pitch that now fails `clear_of_restricted` against the feature: how far, and how far it must be."""

    pitch_id: uuid.UUID
    venue_id: uuid.UUID
    label: str
    distance_m: float | None
    required_m: float
    overlap_forbidden: bool = False


async def affected_pitches(session: AsyncSession, feature: RestrictedFeature) -> list[AffectedPitch]:
    """The open or suspended pitches that fail the siting rules against this one feature."""
    rules = siting.load_siting_rules()
    widest = feature.buffer_m if feature.buffer_m is not None else _widest_reach(rules, feature.kind)
    bounds = (feature.min_lon, feature.min_lat, feature.max_lon, feature.max_lat)
    near = _expanded(bounds, widest + _MARGIN_M)
    rows = await session.execute(
        select(Pitch.id, Pitch.venue_id, Pitch.label, Pitch.geometry, Venue.geometry, Venue.allowed_categories)
        .join(Venue, Venue.id == Pitch.venue_id)
        .where(Pitch.status != "closed", *_boxes_meet(Pitch, near))
        .order_by(Pitch.venue_id, Pitch.label)
    )
    subject = as_siting_feature(feature)
    affected: list[AffectedPitch] = []
    for pitch_id, venue_id, label, pitch_geometry, venue_geometry, categories in rows:
        (check,) = siting.clear_of(
            geo.to_shape(pitch_geometry),
            site=geo.to_shape(venue_geometry),
            features=[subject],
            categories=categories,
            rules=rules,
        )
        if not check.passed:
            affected.append(
                AffectedPitch(
                    pitch_id=pitch_id,
                    venue_id=venue_id,
                    label=label,
                    distance_m=check.distance_m,
                    required_m=check.required_m or 0.0,
                    overlap_forbidden=bool(check.overlap_forbidden),
                )
            )
    return affected


async def _lock_venues_within_reach(
    session: AsyncSession, bounds: tuple[float, float, float, float], kind: str, buffer_m: float | None
) -> None:
    """Lock (FOR UPDATE, in id order) every venue whose box the feature's reach meets, until the transaction ends.

    Marking a pitch and requesting road occupancy lock their venue before they read the features near it; so
    a feature recorded or moved at the same moment either waits for that pitch (and lists it as affected) or
    is committed before the pitch's check reads the features. Id order: two features locking overlapping sets
    of venues cannot deadlock.
    """
    widest = buffer_m if buffer_m is not None else _widest_reach(siting.load_siting_rules(), kind)
    near = _expanded(bounds, widest + _MARGIN_M)
    await session.execute(select(Venue.id).where(*_boxes_meet(Venue, near)).order_by(Venue.id).with_for_update())


# --- recording and moving -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """A feature as written and the pitches it now affects."""

    feature: RestrictedFeature
    affected: list[AffectedPitch]


async def _boundary(session: AsyncSession, principal: Principal, code: str | None) -> tuple[str, geo.Shape]:
    if principal.role == "street_office":
        if code is not None and code != principal.jurisdiction_code:
            raise JurisdictionNotFound()
        code = principal.jurisdiction_code
    if code is None:
        raise InvalidInput.for_field("jurisdiction_code", "is required for an admin")
    jurisdiction = await session.get(Jurisdiction, code)
    if jurisdiction is None:
        raise JurisdictionNotFound()
    return code, shape_of(jurisdiction.boundary)


def _touching(shape: geo.Shape, boundary: geo.Shape) -> None:
    """A point must lie in its jurisdiction; an area must at least touch it (a fire lane may run on beyond it)."""
    if shape.geom_type == "Point":
        check_inside(shape, boundary)
    elif not shape.intersects(boundary):
        detail = "lies wholly outside the jurisdiction's boundary"
        raise GeometryOutsideJurisdiction(f"geometry: {detail}", errors=[FieldError("geometry", detail)])


async def record_feature(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: FeatureKind,
    geometry: Geometry,
    coordinate_system: CoordinateSystem = "wgs84",
    buffer_m: float | None,
    name: str | None,
    jurisdiction_code: str | None,
    now: dt.datetime,
) -> Recorded:
    """Record a restricted feature in the caller's jurisdiction (street office) or the one named (admin)."""
    require_role(principal, "street_office", "admin")
    code, boundary = await _boundary(session, principal, jurisdiction_code)
    shape = any_shape(geometry, coordinate_system=coordinate_system)
    _touching(shape, boundary)
    await _lock_venues_within_reach(session, shape.bounds, kind, buffer_m)
    feature = RestrictedFeature(
        id=uuid.uuid4(),
        jurisdiction_code=code,
        kind=kind,
        name=name.strip() if name else None,
        buffer_m=buffer_m,
        version=1,
        created_by=principal.account_id,
        created_at=now,
        updated_at=now,
        **_feature_columns(shape),
    )
    session.add(feature)
    await session.flush()
    return Recorded(feature, await affected_pitches(session, feature))


def _feature_columns(shape: geo.Shape) -> dict[str, Any]:
    columns = footprint_columns(shape)
    del columns["area_m2"]
    return columns


async def get_feature(session: AsyncSession, feature_id: uuid.UUID) -> RestrictedFeature:
    """One restricted feature (public)."""
    feature = await session.get(RestrictedFeature, feature_id)
    if feature is None:
        raise RestrictedFeatureNotFound()
    return feature


AMENDABLE: Final = frozenset({"kind", "buffer_m", "name"})


async def amend_feature(
    session: AsyncSession,
    principal: Principal,
    feature_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    geometry: Geometry | None = None,
    coordinate_system: CoordinateSystem = "wgs84",
    precondition: Precondition,
    now: dt.datetime,
) -> Recorded:
    """Move a feature, change its kind, buffer (None: back to the rules') or name; 404 outside the caller's
    jurisdiction before If-Match is looked at."""
    feature = await session.scalar(
        select(RestrictedFeature)
        .where(RestrictedFeature.id == feature_id, managed_by(principal, RestrictedFeature.jurisdiction_code))
        .with_for_update()
    )
    if feature is None:
        raise RestrictedFeatureNotFound()
    precondition.check(feature.version, what="restricted feature")
    unknown = set(changes) - AMENDABLE
    if unknown:
        raise ValueError(f"not amendable: {sorted(unknown)}")
    columns: dict[str, Any] = {}
    if geometry is not None:
        shape = any_shape(geometry, coordinate_system=coordinate_system)
        _, boundary = await _boundary(session, principal, feature.jurisdiction_code)
        _touching(shape, boundary)
        columns.update(_feature_columns(shape))
    if "kind" in changes:
        columns["kind"] = changes["kind"]
    if "buffer_m" in changes:
        columns["buffer_m"] = changes["buffer_m"]
    if "name" in changes:
        columns["name"] = changes["name"].strip() if changes["name"] else None
    changed = {column: value for column, value in columns.items() if getattr(feature, column) != value}
    if changed.keys() - {"name"}:
        # Where the feature will stand and how far it will reach: pitches marked there wait for it, or it for them.
        after = {**{c: getattr(feature, c) for c in ("min_lon", "min_lat", "max_lon", "max_lat")}, **columns}
        await _lock_venues_within_reach(
            session,
            (after["min_lon"], after["min_lat"], after["max_lon"], after["max_lat"]),
            columns.get("kind", feature.kind),
            columns.get("buffer_m", feature.buffer_m),
        )
    if changed:  # else nothing to change: the feature is answered as it stands, same version and ETag
        for column, value in changed.items():
            setattr(feature, column, value)
        feature.version += 1
        feature.updated_at = now
        await session.flush()
    return Recorded(feature, await affected_pitches(session, feature))


async def list_features(
    session: AsyncSession,
    *,
    limit: int,
    cursor: str | None = None,
    jurisdiction_code: str | None = None,
    kind: FeatureKind | None = None,
    bbox: Bbox | None = None,
) -> Page[RestrictedFeature]:
    """Restricted features by jurisdiction, kind and bounding box, oldest first (public)."""
    query = select(RestrictedFeature)
    if jurisdiction_code is not None:
        query = query.where(RestrictedFeature.jurisdiction_code == jurisdiction_code)
    if kind is not None:
        query = query.where(RestrictedFeature.kind == kind)
    if bbox is not None:
        query = query.where(*_boxes_meet(RestrictedFeature, (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)))
    return await keyset_page(
        session,
        query,
        (RestrictedFeature.created_at, RestrictedFeature.id),
        limit=limit,
        cursor=cursor,
        key=lambda feature: (feature.created_at, feature.id),
    )
