"""What an exemption decision looks at, read in the caller's transaction: the designated places holding each
period (venues.designated, the per-process index), the zones covering the point that did not, the nearest
designated place, road zones, school gates and the jurisdiction. No rule is applied here
(permits.exemption_logic does that).

A period is held by a designated place when one session of that place contains the whole period: the place
answers at the period's start with a session closing at or after its end, allows the activity's category, and
still answers (same session) just before the end, so a suspension starting mid-period breaks the hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from permits.exemption_types import NearestPlace, PeriodFacts, RoadZone, SchoolGate, ZoneMiss
from registry.catalogue import Activity
from registry.models import Jurisdiction
from venues import geo
from venues.designated import DesignatedIndex, DesignatedPlace, find_designated_places
from venues.features import degrees
from venues.models import RestrictedFeature, Venue
from venues.schedule import calendar

_JUST_BEFORE: Final = dt.timedelta(microseconds=1)
_MARGIN_M: Final = 1.0


@dataclass(frozen=True, slots=True)
class _Covering:
    venue: Venue
    shape: geo.Shape


def _box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    d_lon, d_lat = degrees(metres, lat)
    return lon - d_lon, lat - d_lat, lon + d_lon, lat + d_lat


def _near(table: Any, bounds: tuple[float, float, float, float]) -> list[Any]:
    min_lon, min_lat, max_lon, max_lat = bounds
    return [table.max_lon >= min_lon, table.min_lon <= max_lon, table.max_lat >= min_lat, table.min_lat <= max_lat]


def _shape(geometry: dict[str, Any]) -> geo.Shape:
    [shape] = geo.from_stored([msgspec.json.encode(geometry).decode()])
    return shape


async def venues_covering(session: AsyncSession, point: geo.Shape, kinds: Sequence[str]) -> list[Venue]:
    """Venues of these kinds whose area holds the point (boundary included), in id order."""
    rows = await session.scalars(
        select(Venue)
        .where(Venue.kind.in_(kinds), *_near(Venue, (point.x, point.y, point.x, point.y)))
        .order_by(Venue.id)
    )
    return [v for v in rows if _shape(v.geometry).covers(point)]


def _hours(venue: Venue, day: dt.date, zone: ZoneInfo) -> tuple[str, ...]:
    cal = calendar(
        venue.schedule,
        closed_dates=venue.closed_dates or (),
        valid_from=venue.valid_from,
        valid_to=venue.valid_to,
        zone=zone,
    )
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=zone)
    sessions = sorted(s for s in cal.sessions_around(noon) if s[0].date() == day)
    return tuple(f"{s:%H:%M}–{e:%H:%M}" for s, e in sessions)


def _why_not(
    venue: Venue, start: dt.datetime, end: dt.datetime, found: DesignatedPlace | None, category: str, zone: ZoneInfo
) -> str:
    if venue.designation_authority is None:
        return "a proposed zone: no county-level designation, so it exempts nothing"
    if found is not None and category not in found.allowed_categories:
        return f"does not allow {category} (allows {', '.join(found.allowed_categories)})"
    if found is not None:
        return f"its session {found.opens_at:%H:%M}–{found.closes_at:%H:%M} does not hold the whole period"
    if venue.status != "open":
        return f"{venue.status} ({venue.status_reason or 'no reason given'})"
    day = start.astimezone(zone).date()
    hours = _hours(venue, day, zone)
    if not hours:
        return f"not open on {day}"
    return f"open {', '.join(hours)} on {day}, not {start.astimezone(zone):%H:%M}–{end.astimezone(zone):%H:%M}"


async def period_facts(
    session: AsyncSession,
    index: DesignatedIndex,
    *,
    activity: Activity,
    point: geo.Shape,
    periods: Sequence[tuple[dt.datetime, dt.datetime]],
    zone: ZoneInfo,
) -> tuple[list[PeriodFacts], list[Venue]]:
    """Each period's holding place (or the zones that failed it and why), and the designated-zone venues
    covering the point (read once)."""
    covering = await venues_covering(session, point, ["designated_zone"])
    facts: list[PeriodFacts] = []
    for start, end in periods:
        at_start = await find_designated_places(session, index, point=point, at=start)
        at_end = await find_designated_places(session, index, point=point, at=end - _JUST_BEFORE)
        still = {(p.venue_id, p.opens_at) for p in at_end}
        matched = next(
            (
                p
                for p in at_start
                if activity.category in p.allowed_categories
                and p.closes_at >= end
                and (p.venue_id, p.opens_at) in still
            ),
            None,
        )
        misses: list[ZoneMiss] = []
        if matched is None:
            by_id = {p.venue_id: p for p in at_start}
            for venue in covering:
                found = by_id.get(venue.id)
                misses.append(
                    ZoneMiss(
                        venue_id=venue.id,
                        revision=venue.version,
                        name=venue.name,
                        designated=venue.designation_authority is not None,
                        why=_why_not(venue, start, end, found, activity.category, zone),
                        hours=_hours(venue, start.astimezone(zone).date(), zone),
                    )
                )
        facts.append(
            PeriodFacts(start=start.astimezone(zone), end=end.astimezone(zone), matched=matched, misses=tuple(misses))
        )
    return facts, covering


async def nearest_designated(session: AsyncSession, point: geo.Shape, search_m: float) -> NearestPlace | None:
    """The designated zone nearest the point within `search_m` (distance in the point's Gauss-Krüger zone)."""
    rows = await session.scalars(
        select(Venue)
        .where(
            Venue.kind == "designated_zone",
            Venue.designation_authority.is_not(None),
            Venue.status != "closed",
            *_near(Venue, _box(point.x, point.y, search_m + _MARGIN_M)),
        )
        .order_by(Venue.id)
    )
    projection = geo.projection_of(point)
    best: NearestPlace | None = None
    for venue in rows:
        distance = geo.distance_m(point, _shape(venue.geometry), projection=projection)
        if distance <= search_m and (best is None or distance < best.distance_m):
            best = NearestPlace(venue_id=venue.id, revision=venue.version, name=venue.name, distance_m=distance)
    return best


async def road_zones(session: AsyncSession, point: geo.Shape) -> list[RoadZone]:
    return [
        RoadZone(
            venue_id=v.id,
            revision=v.version,
            name=v.name,
            carriageway=v.is_carriageway,
            joint_approval_valid_to=v.joint_approval_valid_to,
        )
        for v in await venues_covering(session, point, ["road_zone"])
        if v.status != "closed"
    ]


async def school_gates(session: AsyncSession, point: geo.Shape, within_m: float) -> list[SchoolGate]:
    """School gates within `within_m` of the point, nearest first (ties by id)."""
    if within_m <= 0:
        return []
    rows = await session.scalars(
        select(RestrictedFeature)
        .where(
            RestrictedFeature.kind == "school_gate",
            *_near(RestrictedFeature, _box(point.x, point.y, within_m + _MARGIN_M)),
        )
        .order_by(RestrictedFeature.id)
    )
    projection = geo.projection_of(point)
    gates = [
        SchoolGate(
            feature_id=f.id, name=f.name, distance_m=geo.distance_m(point, _shape(f.geometry), projection=projection)
        )
        for f in rows
    ]
    return sorted(
        (g for g in gates if g.distance_m <= within_m + _MARGIN_M), key=lambda g: (g.distance_m, g.feature_id)
    )


async def jurisdiction_at(session: AsyncSession, point: geo.Shape) -> str | None:
    """The most specific registered jurisdiction whose boundary holds the point (longest code, then lowest)."""
    rows = await session.scalars(
        select(Jurisdiction)
        .where(*_near(Jurisdiction, (point.x, point.y, point.x, point.y)))
        .order_by(Jurisdiction.code)
    )
    codes = [j.code for j in rows if _shape(j.boundary).covers(point)]
    return max(codes, key=lambda code: (len(code), -int(code))) if codes else None
