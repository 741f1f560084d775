"""Venues records for tests: add, flush, return the typed row (the caller commits when the app must see it).

Shapes are drawn in metres around DONGCHENG_CENTRE (inside tests.builders.DONGCHENG_SQUARE, the test
jurisdiction's boundary) and handed over as WGS84 GeoJSON, as a client would send them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import shapely
from shapely import affinity
from shapely.geometry import mapping
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Account
from venues import geo
from venues.models import Pitch, RestrictedFeature, Venue, VenueChangeCounter, VenueRevision

DONGCHENG_CENTRE = (116.41, 39.93)
PROJECTION = geo.projection_for(DONGCHENG_CENTRE[0])
_ORIGIN = PROJECTION.to_metres(shapely.Point(*DONGCHENG_CENTRE))
EVERY_DAY = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "22:00"}]
ALL_CATEGORIES = ["agricultural_products", "daily_necessities", "convenience_services"]


def wgs(shape_m: shapely.Geometry) -> shapely.Geometry:
    """A shape drawn in metres (x east, y north of DONGCHENG_CENTRE), in WGS84."""
    return PROJECTION.to_wgs84(affinity.translate(shape_m, _ORIGIN.x, _ORIGIN.y))


def geojson(shape_m: shapely.Geometry) -> dict[str, Any]:
    """The WGS84 GeoJSON of a shape drawn in metres, with plain lists as a JSON client sends."""
    result: dict[str, Any] = _lists(mapping(wgs(shape_m)))
    return result


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """GeoJSON of the rectangle [x0, x1] × [y0, y1] metres from DONGCHENG_CENTRE."""
    return geojson(shapely.box(x0, y0, x1, y1))


def point(x: float, y: float) -> dict[str, Any]:
    return geojson(shapely.Point(x, y))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value


def _bounds(geometry: dict[str, Any]) -> dict[str, float]:
    shape = geo.to_shape(geometry)
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    return {"min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat}


async def bump_change_counter(session: AsyncSession) -> None:
    await session.execute(update(VenueChangeCounter).values(counter=VenueChangeCounter.counter + 1))


async def make_venue(session: AsyncSession, *, jurisdiction_code: str, created_by: Account, **overrides: Any) -> Venue:
    """An open community space of 40 × 40 m around DONGCHENG_CENTRE, every day 06:00–22:00, revision 1."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "jurisdiction_code": jurisdiction_code,
        "name": "东华门社区服务中心",
        "kind": "community_space",
        "geometry": box(-20, -20, 20, 20),
        "schedule": EVERY_DAY,
        "valid_from": dt.date(2026, 1, 1),
        "allowed_categories": ALL_CATEGORIES,
        "created_by": created_by.id,
    }
    fields.update(overrides)
    fields = {**_bounds(fields["geometry"]), **fields}
    fields.setdefault("area_m2", geo.area_m2(geo.to_shape(fields["geometry"])))
    venue = Venue(**fields)
    session.add(venue)
    await session.flush()
    session.add(
        VenueRevision(
            venue_id=venue.id,
            revision=1,
            snapshot={"name": venue.name, "kind": venue.kind, "geometry": venue.geometry},
            change="created",
            changed_by=created_by.id,
        )
    )
    await bump_change_counter(session)
    await session.flush()
    return venue


async def make_pitch(session: AsyncSession, *, venue: Venue, created_by: Account, **overrides: Any) -> Pitch:
    """A 1 × 1.5 m pitch at the venue's centre unless told otherwise (no siting check: a builder)."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "venue_id": venue.id,
        "venue_revision": venue.version or 1,
        "label": f"P-{uuid.uuid4().hex[:6]}",
        "geometry": box(-0.5, -0.75, 0.5, 0.75),
        "checks": [],
        "rules_version": "2026.1",
        "created_by": created_by.id,
    }
    fields.update(overrides)
    fields = {**_bounds(fields["geometry"]), **fields}
    fields.setdefault("area_m2", geo.area_m2(geo.to_shape(fields["geometry"])))
    pitch = Pitch(**fields)
    session.add(pitch)
    await session.flush()
    return pitch


async def make_feature(
    session: AsyncSession, *, jurisdiction_code: str, created_by: Account, **overrides: Any
) -> RestrictedFeature:
    """A fire hydrant 100 m east of DONGCHENG_CENTRE unless told otherwise."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "jurisdiction_code": jurisdiction_code,
        "kind": "fire_hydrant",
        "geometry": point(100, 0),
        "created_by": created_by.id,
    }
    fields.update(overrides)
    fields = {**_bounds(fields["geometry"]), **fields}
    feature = RestrictedFeature(**fields)
    session.add(feature)
    await session.flush()
    return feature
