"""Build WGS84 shapes from a local metric frame in Beijing's Gauss-Krüger zone (EPSG:4548)."""

from __future__ import annotations

import shapely
from shapely import affinity

from venues import geo

BEIJING = (116.4, 39.9)
PROJECTION = geo.projection_for(BEIJING[0])
_ORIGIN = PROJECTION.to_metres(shapely.Point(*BEIJING))


def wgs(shape_m: shapely.Geometry) -> shapely.Geometry:
    """A shape drawn in metres around Beijing (x east, y north from 116.4°E 39.9°N), in WGS84."""
    return PROJECTION.to_wgs84(affinity.translate(shape_m, _ORIGIN.x, _ORIGIN.y))


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    return wgs(shapely.box(x0, y0, x1, y1))


def point(x: float, y: float) -> shapely.Geometry:
    return wgs(shapely.Point(x, y))
