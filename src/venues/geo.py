"""Geometry for venues: GeoJSON in, shapely inside, metres in a projected CRS. Shapely objects live only here.

Everything stored and exchanged is WGS84 (≡ CGCS2000 to well under a metre, DOMAIN §6.4). Shapely is
planar, so metres are measured after projecting into the CGCS2000 3-degree Gauss-Krüger zone whose central
meridian is nearest the place (EPSG:4534, CM 75°E … EPSG:4554, CM 135°E; Beijing at 116.4°E → CM 117°E,
EPSG:4548). Within 1.5° of the central meridian the scale error is below 0.04 ‰ at Beijing's latitude,
about 1 mm over 30 m; Web Mercator would stretch metres by 1/cos(lat), ~30 % at 39.9°N, and is never used.
Every geometry of one check is projected with the same zone (that of the venue), so they compare exactly.

Invalid input is refused with shapely's reason (`GeometryError`), never repaired with make_valid.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import msgspec
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry import mapping

from core import coords
from core.digest_cache import DigestCache
from core.errors import InvalidInput
from core.geojson import CHINA_BOUNDS, Area, CoordinateSystem, Geometry, Point, check_area

Shape: TypeAlias = shapely.Geometry
"""A shapely geometry; WGS84 unless a function says it is projected (metres)."""

WGS84: Final = "EPSG:4326"
# CGCS2000 / 3-degree Gauss-Kruger CM 75E is EPSG:4534; each next zone (CM + 3°) is the next code, to CM 135E.
_GK_FIRST_EPSG: Final = 4534
_GK_FIRST_CM: Final = 75
_GK_LAST_CM: Final = 135

_Array: TypeAlias = NDArray[np.float64]


class GeometryError(ValueError):
    """A geometry refused on the way in: `field` names where, `reason` says why (shapely's words if invalid)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- GeoJSON -> shapely ------------------------------------------------------------------------------------


def to_shape(
    geometry: Geometry | Mapping[str, Any], *, field: str = "geometry", coordinate_system: CoordinateSystem = "wgs84"
) -> Shape:
    """A checked WGS84 shapely geometry from a GeoJSON Struct or a decoded JSON object.

    The input is (re)validated against the core GeoJSON types, so a Struct built in code meets the same
    limits as one decoded from a request: at least 4 positions per ring, at most 5000 vertices, finite
    numbers, rings closed, positions inside China as [longitude, latitude], a valid shape with area.
    GCJ-02 input is converted to WGS84 first.
    """
    raw = msgspec.to_builtins(geometry) if isinstance(geometry, msgspec.Struct) else dict(geometry)
    try:
        checked: Geometry = msgspec.convert(raw, Geometry)
    except msgspec.ValidationError as exc:
        raise GeometryError(field, str(exc)) from exc
    if isinstance(checked, Point):
        if coordinate_system == "gcj02":
            checked = coords.point_from_gcj02(checked)
        lon, lat = checked.coordinates
        _check_position(lon, lat, field)
        return shapely.Point(lon, lat)
    area: Area = coords.area_from_gcj02(checked) if coordinate_system == "gcj02" else checked
    try:
        return check_area(area, field)
    except InvalidInput as exc:
        error = exc.errors[0] if exc.errors else None
        raise GeometryError(error.field if error else field, error.message if error else exc.detail) from exc


def _check_position(lon: float, lat: float, field: str) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError(f"{field}.coordinates", "positions must be finite numbers")
    if not (CHINA_BOUNDS[0] <= lon <= CHINA_BOUNDS[2] and CHINA_BOUNDS[1] <= lat <= CHINA_BOUNDS[3]):
        raise GeometryError(
            f"{field}.coordinates", f"[{lon}, {lat}] is outside China; positions are [longitude, latitude]"
        )


def to_geojson(shape: Shape) -> Geometry:
    """The GeoJSON Struct of a WGS84 Point, Polygon or MultiPolygon."""
    result: Geometry = msgspec.convert(mapping(shape), Geometry)
    return result


# --- Metres -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Projection:
    """One Gauss-Krüger zone: transformers built once (2–11 ms each, PERFORMANCE.md) and reused."""

    epsg: int
    central_meridian: int
    _forward: Transformer
    _inverse: Transformer

    def to_metres(self, shape: Shape) -> Shape:
        """`shape` (WGS84) in this zone's easting/northing metres."""
        return _apply(self._forward, shape)

    def to_wgs84(self, shape: Shape) -> Shape:
        """A projected `shape` back in WGS84 longitude/latitude."""
        return _apply(self._inverse, shape)

    def all_to_metres(self, shapes: Sequence[Shape]) -> list[Shape]:
        """Many shapes projected in one vectorised call (~6× cheaper than one by one)."""
        if not shapes:
            return []
        transformer = self._forward
        projected = shapely.transform(np.asarray(shapes, dtype=object), _pair(transformer), interleaved=False)
        return list(projected)


def _pair(transformer: Transformer) -> Any:
    def transform(x: _Array, y: _Array) -> tuple[_Array, _Array]:
        tx, ty = transformer.transform(x, y)
        return np.asarray(tx), np.asarray(ty)

    return transform


def _apply(transformer: Transformer, shape: Shape) -> Shape:
    result: Shape = shapely.transform(shape, _pair(transformer), interleaved=False)
    return result


def central_meridian(lon: float) -> int:
    """The 3-degree zone's central meridian nearest `lon`, within China's zones (75°E … 135°E)."""
    if not math.isfinite(lon):
        raise ValueError("longitude must be finite")
    return min(max(3 * round(lon / 3), _GK_FIRST_CM), _GK_LAST_CM)


@functools.cache
def _projection(cm: int) -> Projection:
    epsg = _GK_FIRST_EPSG + (cm - _GK_FIRST_CM) // 3
    target = f"EPSG:{epsg}"
    return Projection(
        epsg=epsg,
        central_meridian=cm,
        _forward=Transformer.from_crs(WGS84, target, always_xy=True),
        _inverse=Transformer.from_crs(target, WGS84, always_xy=True),
    )


def projection_for(lon: float) -> Projection:
    """The cached projection for places at longitude `lon`."""
    return _projection(central_meridian(lon))


def projection_of(shape: Shape) -> Projection:
    """The cached projection for a WGS84 shape, by the longitude of its centroid."""
    return projection_for(shape.centroid.x)


def to_metres(shape: Shape, *, projection: Projection | None = None) -> Shape:
    """`shape` (WGS84) projected to metres, in `projection` or the zone of the shape itself."""
    return (projection or projection_of(shape)).to_metres(shape)


def distance_m(a: Shape, b: Shape, *, projection: Projection | None = None) -> float:
    """Shortest distance in metres between two WGS84 shapes (0 if they touch or overlap)."""
    p = projection or projection_of(a)
    return float(p.to_metres(a).distance(p.to_metres(b)))


def area_m2(shape: Shape, *, projection: Projection | None = None) -> float:
    """Area of a WGS84 shape in square metres."""
    return float(to_metres(shape, projection=projection).area)


def buffer_m(shape: Shape, metres: float, *, projection: Projection | None = None) -> Shape:
    """The WGS84 area within `metres` of a WGS84 shape (for maps; checks measure distances instead)."""
    p = projection or projection_of(shape)
    return p.to_wgs84(p.to_metres(shape).buffer(metres))


# --- Planar helpers over projected shapes (used by siting, which never touches shapely itself) --------------

# Distances are compared at millimetre resolution: coordinates carry ~1 cm, and a round trip through the
# projection must not turn "exactly 50 m" into 49.999999 m.
MM: Final = 1e-3


def planar_distance(a: Shape, b: Shape) -> float:
    return float(a.distance(b))


def planar_area(shape: Shape) -> float:
    return float(shape.area)


def area_outside(inner: Shape, outer: Shape) -> float:
    """Square metres of `inner` not covered by `outer`."""
    return float(inner.difference(outer).area)


def overlap_area(a: Shape, b: Shape) -> float:
    return float(a.intersection(b).area)


def interiors_meet(a: Shape, b: Shape) -> bool:
    """True if `b` reaches more than a millimetre into area `a` (a shared edge is not an overlap).

    The millimetre absorbs the projection's round-trip noise, which would turn a shared edge into a sliver.
    """
    return bool(a.buffer(-MM).intersects(b))


class Index:
    """An STRtree over projected shapes, built once per check; answers by position in the given list."""

    def __init__(self, shapes: Sequence[Shape]) -> None:
        self._tree = shapely.STRtree(list(shapes))

    def intersecting(self, shape: Shape) -> list[int]:
        return sorted(int(i) for i in self._tree.query(shape, predicate="intersects"))

    def within(self, shape: Shape, metres: float) -> list[int]:
        return sorted(int(i) for i in self._tree.query(shape, predicate="dwithin", distance=metres))


# The bare sidewalk eroded by a radius, and its widest disc, depend only on the zone's stored shape: cached per
# process under a digest of the projected shape's WKB (exact coordinates) and the radius, so nothing can go
# stale. A road request's bisection asks about a dozen radii of one sidewalk; a city has a few thousand zones.
_ERODED: Final[DigestCache[int]] = DigestCache(4096)
_WIDEST: Final[DigestCache[float]] = DigestCache(1024)


def _bare_pieces(sidewalk_wkb: bytes, radius: float) -> int:
    """Pieces of the sidewalk eroded by `radius` (0 when nothing is left)."""

    def count() -> int:
        bare = shapely.from_wkb(sidewalk_wkb).buffer(-radius)
        return 0 if bare.is_empty else int(shapely.get_num_geometries(bare))

    return _ERODED.get(sidewalk_wkb + struct.pack("<d", radius), count)


def _widest_disc(sidewalk_wkb: bytes, tolerance: float) -> float:
    """Diameter of the widest disc inside the sidewalk."""

    def widest() -> float:
        circle = shapely.maximum_inscribed_circle(shapely.from_wkb(sidewalk_wkb), tolerance=tolerance)
        return 2 * float(circle.length)

    return _WIDEST.get(sidewalk_wkb + struct.pack("<d", tolerance), widest)


def _passage_ok(sidewalk_wkb: bytes, left: Shape, width: float) -> bool:
    """Does a walker `width` wide get through `left` wherever they got through the bare sidewalk?"""
    radius = max(width / 2 - MM, 0.0)
    bare = _bare_pieces(sidewalk_wkb, radius)
    if bare == 0:
        return True  # the sidewalk itself is narrower than that: nothing a stall could take away
    eroded = left.buffer(-radius)
    if eroded.is_empty:
        return False
    return int(shapely.get_num_geometries(eroded)) <= bare


def _left(sidewalk: Shape, footprints: Sequence[Shape]) -> Shape:
    return sidewalk.difference(shapely.union_all(list(footprints))) if footprints else sidewalk


def walkway(
    sidewalk: Shape, footprints: Sequence[Shape], width: float, *, resolution: float = 0.01
) -> tuple[bool, float]:
    """Whether the projected sidewalk minus every footprint still lets a `width`-wide walker through, and the
    widest walker (metres, to `resolution`) that passes, found by bisection.

    Approximation (documented in siting): erode what is left by half the width (a disc of that diameter
    rolled along the walkway); if that splits into more pieces than the bare sidewalk eroded the same way,
    or vanishes, some stall or group of stalls narrows the walkway below `width` somewhere. A 1 mm
    allowance lets a walkway of exactly `width` pass. A stall at a dead end takes length, not passage, and
    is not counted as narrowing.
    """
    wkb = shapely.to_wkb(sidewalk)
    left = _left(sidewalk, footprints)
    passed = _passage_ok(wkb, left, width)
    if left.is_empty:
        return passed, 0.0
    # No passage is wider than the widest disc inside the bare sidewalk.
    high = _widest_disc(wkb, resolution / 4) + resolution
    low = 0.0
    while high - low > resolution:
        mid = (low + high) / 2
        # The sidewalk eroded by mid/2 - 1 mm must keep something: the same erosion _passage_ok measures
        # (-(a - b) is exactly -a + b in IEEE arithmetic), so one cached count answers both.
        if _passage_ok(wkb, left, mid) and _bare_pieces(wkb, mid / 2 - MM) > 0:
            low = mid
        else:
            high = mid
    return passed, round(low, 2)


# --- Stored geometry, in bulk ---------------------------------------------------------------------------------


# Zones, footprints and pitches as stored, parsed once per process: keyed by a digest of the text (a shape is a
# pure function of it, so a changed geometry is a new key and nothing can go stale).
_STORED: Final[DigestCache[Shape]] = DigestCache(2048)


def stored_shape(text: str) -> Shape:
    """`to_shape` of a GeoJSON text this service stored, cached per process (see `_STORED`)."""
    return _STORED.get(text.encode(), lambda: to_shape(json.loads(text)))


def from_stored(texts: Sequence[str]) -> list[Shape]:
    """WGS84 shapes from GeoJSON texts this service stored (validated on the way in), in one vectorised call.

    For building indexes over thousands of stored places: `to_shape` would re-validate each one (~100×
    slower), which the stored text, written only after `to_shape` accepted it, does not need.
    """
    if not texts:
        return []
    return list(shapely.from_geojson(np.asarray(texts, dtype=object)))


def point(lon: float, lat: float) -> Shape:
    """The WGS84 point at `lon`, `lat` (already checked by the caller: a query's parameters)."""
    return shapely.Point(lon, lat)
