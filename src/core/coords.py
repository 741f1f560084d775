"""GCJ-02 (the offset datum of AMap/Tencent SDKs) to WGS84, at the API edge; pyproj has no GCJ-02.

The forward transform is the widely published one (Krasovsky ellipsoid); the inverse iterates it until the
round trip is below a millimetre (DOMAIN.md §6.4).
"""

from __future__ import annotations

import math

from core.geojson import Area, MultiPolygon, Point, Polygon

_A = 6378245.0
_EE = 0.00669342162296594323


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    d_lon, d_lat = _delta(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Invert the offset by fixed-point iteration (10 rounds: error well under 1 mm)."""
    wgs_lon, wgs_lat = lon, lat
    for _ in range(10):
        g_lon, g_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        wgs_lon, wgs_lat = wgs_lon - (g_lon - lon), wgs_lat - (g_lat - lat)
    return wgs_lon, wgs_lat


def _ring(ring: list[list[float]]) -> list[list[float]]:
    return [list(gcj02_to_wgs84(lon, lat)) for lon, lat in ring]


def area_from_gcj02(area: Area) -> Area:
    if isinstance(area, Polygon):
        return Polygon(coordinates=[_ring(ring) for ring in area.coordinates])
    return MultiPolygon(coordinates=[[_ring(ring) for ring in polygon] for polygon in area.coordinates])


def point_from_gcj02(point: Point) -> Point:
    lon, lat = point.coordinates
    return Point(coordinates=list(gcj02_to_wgs84(lon, lat)))
