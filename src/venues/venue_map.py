"""What a venue's map shows: the venue, its pitches with their status today, restricted features near it with
the buffer a pitch of this venue must keep, and each buffer's area (public).

A pitch's status today: `closed` or `suspended` as its own standing says (a suspension from its start to its
end), else `allocated` when a held allocation's term covers today, else `open`. "Near" is what the siting
checks of a new pitch would consider (`features.features_near`), so the map shows exactly what a pitch is
checked against.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.geojson import Geometry
from venues import features, geo, siting
from venues.models import Allocation, Pitch, PlaceStatus, RestrictedFeature, Venue
from venues.venues import current_status, get_venue


@dataclass(frozen=True, slots=True)
class NearFeature:
    feature: RestrictedFeature
    buffer_m: float
    overlap_forbidden: bool
    buffer: Geometry | None  # the area within buffer_m (None where the buffer is 0)


@dataclass(frozen=True, slots=True)
class MapContents:
    venue: Venue
    venue_status: PlaceStatus
    pitches: list[tuple[Pitch, Any]]  # (pitch, its status today)
    features: list[NearFeature]


async def venue_map(session: AsyncSession, venue_id: uuid.UUID, *, now: dt.datetime, today: dt.date) -> MapContents:
    venue = await get_venue(session, venue_id)
    pitches = list(
        (await session.scalars(select(Pitch).where(Pitch.venue_id == venue.id).order_by(Pitch.pitch_no))).all()
    )
    allocated = set(
        (
            await session.scalars(
                select(Allocation.pitch_id).where(
                    Allocation.pitch_id.in_([pitch.id for pitch in pitches]),
                    Allocation.status == "held",
                    Allocation.term_start <= today,
                    Allocation.term_end >= today,
                )
            )
        ).all()
    )
    statuses: list[tuple[Pitch, Any]] = []
    for pitch in pitches:
        standing = current_status(pitch.status, pitch.status_from, pitch.status_until, now)
        statuses.append((pitch, "allocated" if standing == "open" and pitch.id in allocated else standing))
    rules = siting.load_siting_rules()
    bounds = (venue.min_lon, venue.min_lat, venue.max_lon, venue.max_lat)
    projection = geo.projection_for((venue.min_lon + venue.max_lon) / 2)
    near: list[NearFeature] = []
    for feature in await features.features_near(session, bounds, venue.allowed_categories):
        need = (
            feature.buffer_m if feature.buffer_m is not None else rules.buffer_m(feature.kind, venue.allowed_categories)
        )
        area = None
        if need > 0:
            area = geo.to_geojson(geo.buffer_m(geo.to_shape(feature.geometry), need, projection=projection))
        near.append(NearFeature(feature, need, rules.kinds[feature.kind].overlap_forbidden, area))
    return MapContents(
        venue=venue,
        venue_status=current_status(venue.status, venue.status_from, venue.status_until, now),
        pitches=statuses,
        features=near,
    )
