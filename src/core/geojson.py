"""GeoJSON geometry (RFC 7946) as msgspec Structs, checked structurally before shapely ever sees it."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import msgspec
import shapely
from shapely.geometry import shape

from core.errors import InvalidInput

# Longitude and latitude each bounded; NaN and infinity fail the bounds.
Position = Annotated[list[Annotated[float, msgspec.Meta(ge=-180, le=180)]], msgspec.Meta(min_length=2, max_length=2)]
MAX_VERTICES = 5000
# Rings per polygon and polygons per multipolygon: bounds the decoder's work before check_area counts vertices.
MAX_RINGS = 100
MAX_POLYGONS = 100

Ring = Annotated[list[Position], msgspec.Meta(min_length=4, max_length=MAX_VERTICES)]
Rings = Annotated[list[Ring], msgspec.Meta(min_length=1, max_length=MAX_RINGS)]
CoordinateSystem = Literal["wgs84", "gcj02"]

# China's extent with a margin (DOMAIN.md §6.4); a swapped [lat, lon] pair falls outside it.
CHINA_BOUNDS = (72.0, 0.8, 137.9, 55.9)


class Point(msgspec.Struct, tag="Point", tag_field="type", forbid_unknown_fields=True, frozen=True):
    coordinates: Position


class Polygon(msgspec.Struct, tag="Polygon", tag_field="type", forbid_unknown_fields=True, frozen=True):
    coordinates: Rings


class MultiPolygon(msgspec.Struct, tag="MultiPolygon", tag_field="type", forbid_unknown_fields=True, frozen=True):
    coordinates: Annotated[list[Rings], msgspec.Meta(min_length=1, max_length=MAX_POLYGONS)]


Area = Polygon | MultiPolygon
Geometry = Point | Polygon | MultiPolygon


def _rings(geometry: Area) -> list[list[list[float]]]:
    if isinstance(geometry, Polygon):
        return geometry.coordinates
    return [ring for polygon in geometry.coordinates for ring in polygon]


def check_area(geometry: Area, field: str) -> shapely.Geometry:
    """Refuse unclosed rings, too many vertices, positions outside China and invalid shapes, naming why."""
    rings = _rings(geometry)
    if sum(len(ring) for ring in rings) > MAX_VERTICES:
        raise InvalidInput.for_field(field, f"has more than {MAX_VERTICES} vertices")
    for index, ring in enumerate(rings):
        if ring[0] != ring[-1]:
            raise InvalidInput.for_field(f"{field}.coordinates", f"ring {index} is not closed (first != last)")
        for lon, lat in ring:
            if not (math.isfinite(lon) and math.isfinite(lat)):
                raise InvalidInput.for_field(f"{field}.coordinates", "positions must be finite numbers")
            if not (CHINA_BOUNDS[0] <= lon <= CHINA_BOUNDS[2] and CHINA_BOUNDS[1] <= lat <= CHINA_BOUNDS[3]):
                raise InvalidInput.for_field(
                    f"{field}.coordinates", f"[{lon}, {lat}] is outside China; positions are [longitude, latitude]"
                )
    geom = shape(msgspec.to_builtins(geometry))
    if not geom.is_valid:
        raise InvalidInput.for_field(field, f"is not a valid geometry: {shapely.is_valid_reason(geom)}")
    if geom.area <= 0:
        raise InvalidInput.for_field(field, "has no area")
    return geom


def to_builtins(geometry: Geometry) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(geometry)
    return result
