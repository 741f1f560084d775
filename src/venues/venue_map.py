"""What a venue's map shows: the venue, its pitches with their status today, restricted features near it with
the buffer a pitch of this venue must keep, and each buffer's area (public).

A pitch's status today: `closed` or `suspended` as its own standing says (a suspension from its start to its
end), else `allocated` when a held allocation's term covers today, else `open`. "Near" is what the siting
checks of a new pitch would consider (`features.features_near`), so the map shows exactly what a pitch is
checked against.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from dataclasses import dataclass
from typing import Final, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import driver_connection
from core.digest_cache import DigestCache
from core.geojson import Geometry
from venues import features, geo, siting
from venues.models import PlaceStatus, Venue
from venues.venues import current_status, get_venue

PitchMapStatus = Literal["open", "allocated", "suspended", "closed"]


@dataclass(frozen=True, slots=True)
class NearFeature:
    feature: features.FeatureRow
    buffer_m: float
    overlap_forbidden: bool
    buffer: Geometry | None  # the area within buffer_m (None where the buffer is 0)


@dataclass(frozen=True, slots=True)
class MapPitch:
    id: uuid.UUID
    label: str
    area_m2: float
    geometry: Geometry
    status: PitchMapStatus  # today's


@dataclass(frozen=True, slots=True)
class MapContents:
    venue: Venue
    venue_status: PlaceStatus
    pitches: list[MapPitch]
    features: list[NearFeature]


# The venue's pitches with whether a held allocation covers today, in one statement sent straight to the
# driver (core.db.driver_connection): ORM objects for every pitch cost more than the rest of the map. The
# geometry comes as text and is decoded into its Struct in one step (a JSONB codec, then a convert, per row
# cost more); JSONB's text is the stored value, so the Struct is the one the ORM path built.
_PITCHES_SQL: Final = """
SELECT p.id, p.label, p.area_m2, p.status, p.status_from, p.status_until, p.geometry::text,
       EXISTS (SELECT 1 FROM venues_allocation AS a
                WHERE a.pitch_id = p.id AND a.status = 'held' AND a.term_start <= $2 AND a.term_end >= $2)
  FROM venues_pitch AS p
 WHERE p.venue_id = $1
 ORDER BY p.pitch_no
"""
_GEOMETRY: Final = msgspec.json.Decoder(Geometry)
# A feature's buffer, by a digest of its stored geometry, the radius and the projection zone (see `_buffer`).
_BUFFERS: Final[DigestCache[Geometry]] = DigestCache(1024)


async def venue_map(session: AsyncSession, venue_id: uuid.UUID, *, now: dt.datetime, today: dt.date) -> MapContents:
    venue = await get_venue(session, venue_id)
    driver = await driver_connection(session)
    pitches: list[MapPitch] = []
    for row in await driver.fetch(_PITCHES_SQL, venue.id, today):
        standing = current_status(row[3], row[4], row[5], now)
        status: PitchMapStatus = "allocated" if standing == "open" and row[7] else standing
        pitches.append(
            MapPitch(id=row[0], label=row[1], area_m2=row[2], geometry=_GEOMETRY.decode(row[6]), status=status)
        )
    rules = siting.load_siting_rules()
    bounds = (venue.min_lon, venue.min_lat, venue.max_lon, venue.max_lat)
    cm = geo.central_meridian((venue.min_lon + venue.max_lon) / 2)
    near: list[NearFeature] = []
    for feature in await features.features_near(session, bounds, venue.allowed_categories):
        need = (
            feature.buffer_m if feature.buffer_m is not None else rules.buffer_m(feature.kind, venue.allowed_categories)
        )
        area = _buffer(msgspec.json.encode(feature.geometry), need, cm) if need > 0 else None
        near.append(NearFeature(feature, need, rules.kinds[feature.kind].overlap_forbidden, area))
    return MapContents(
        venue=venue,
        venue_status=current_status(venue.status, venue.status_from, venue.status_until, now),
        pitches=pitches,
        features=near,
    )


def _buffer(geometry: bytes, metres: float, central_meridian: int) -> Geometry:
    """The area within `metres` of a feature's stored geometry, projected in the zone of `central_meridian`.

    Cached per process: a pure function of its arguments (the stored geometry itself is the key), so a moved
    feature is a new key and nothing can go stale. The Struct is shared between responses and never changed.
    """

    def area() -> Geometry:
        shape = geo.to_shape(msgspec.json.decode(geometry))
        return geo.to_geojson(geo.buffer_m(shape, metres, projection=geo.projection_for(central_meridian)))

    return _BUFFERS.get(geometry + struct.pack("<di", metres, central_meridian), area)
