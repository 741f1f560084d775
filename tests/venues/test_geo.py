from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from core.geojson import Point, Polygon
from tests.venues.helpers import BEIJING, box, point
from venues import geo

GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize("azimuth", [0, 37, 90, 135, 180, 225, 270, 315])
def test_thirty_geodesic_metres_measure_thirty_at_beijing(azimuth: float) -> None:
    lon, lat, _ = GEOD.fwd(*BEIJING, azimuth, 30.0)
    a, b = shapely.Point(*BEIJING), shapely.Point(lon, lat)
    assert geo.distance_m(a, b) == pytest.approx(30.0, abs=0.05)


def test_web_mercator_would_stretch_the_same_thirty_metres_by_about_thirty_percent() -> None:
    mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    for azimuth in (0, 90):
        lon, lat, _ = GEOD.fwd(*BEIJING, azimuth, 30.0)
        (x0, x1), (y0, y1) = mercator.transform([BEIJING[0], lon], [BEIJING[1], lat])
        stretched = math.hypot(x1 - x0, y1 - y0)
        assert stretched == pytest.approx(30.0 / math.cos(math.radians(39.9)), rel=0.01)  # ~39.2 m
        assert stretched / 30.0 > 1.29
        assert geo.distance_m(shapely.Point(*BEIJING), shapely.Point(lon, lat)) == pytest.approx(30.0, abs=0.05)


@pytest.mark.parametrize(
    ("lon", "epsg", "cm"),
    [
        (116.4, 4548, 117),
        (121.47, 4549, 120),
        (104.07, 4544, 105),
        (87.6, 4538, 87),
        (73.5, 4534, 75),
        (135.0, 4554, 135),
    ],
)
def test_gauss_kruger_zone_is_derived_from_the_longitude(lon: float, epsg: int, cm: int) -> None:
    projection = geo.projection_for(lon)
    assert (projection.epsg, projection.central_meridian) == (epsg, cm)
    assert CRS.from_epsg(epsg).name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_one_projection_per_zone_is_built_once_and_reused() -> None:
    assert geo.projection_for(116.4) is geo.projection_for(117.9)
    assert geo.projection_for(116.4) is not geo.projection_for(120.0)


def test_area_and_buffer_in_metres() -> None:
    square = box(0, 0, 10, 10)
    assert geo.area_m2(square) == pytest.approx(100.0, abs=0.01)
    ring = geo.buffer_m(point(0, 0), 30.0)
    assert geo.area_m2(ring) == pytest.approx(math.pi * 900, rel=0.01)
    assert geo.distance_m(point(0, 0), point(30, 40)) == pytest.approx(50.0, abs=1e-6)
    assert geo.to_metres(point(0, 0)).x == pytest.approx(500_000, abs=60_000)  # false easting, CM 117°E


def _polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


SQUARE = [[116.40, 39.90], [116.41, 39.90], [116.41, 39.91], [116.40, 39.91], [116.40, 39.90]]


def test_valid_polygon_and_point_become_shapes_and_back() -> None:
    shape = geo.to_shape(_polygon(SQUARE))
    assert shape.geom_type == "Polygon"
    assert geo.to_geojson(shape) == Polygon(coordinates=[SQUARE])
    struct = Point(coordinates=[116.4, 39.9])
    assert geo.to_shape(struct).equals(shapely.Point(116.4, 39.9))


def test_bowtie_is_refused_with_shapelys_reason() -> None:
    bowtie = [[116.40, 39.90], [116.41, 39.91], [116.41, 39.90], [116.40, 39.91], [116.40, 39.90]]
    with pytest.raises(geo.GeometryError) as info:
        geo.to_shape(_polygon(bowtie), field="area")
    assert info.value.field == "area"
    assert "Self-intersection" in info.value.reason
    assert isinstance(info.value, ValueError)


def test_unclosed_ring_is_refused() -> None:
    unclosed = [*SQUARE[:-1], [116.4, 39.905]]
    with pytest.raises(geo.GeometryError, match="not closed") as info:
        geo.to_shape(_polygon(unclosed), field="area")
    assert info.value.field == "area.coordinates"


def test_too_few_points_are_refused() -> None:
    with pytest.raises(geo.GeometryError, match="length >= 4") as info:
        geo.to_shape(_polygon([[116.40, 39.90], [116.41, 39.90], [116.40, 39.90]]), field="area")
    assert info.value.field == "area"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_in_structs_and_objects(bad: float) -> None:
    ring = [list(p) for p in SQUARE]
    ring[1][1] = bad
    with pytest.raises(geo.GeometryError):
        geo.to_shape(_polygon(ring))
    with pytest.raises(geo.GeometryError):
        geo.to_shape(Polygon(coordinates=[ring]))
    with pytest.raises(geo.GeometryError):
        geo.to_shape(Point(coordinates=[116.4, bad]))


def test_swapped_latitude_and_longitude_fall_outside_china() -> None:
    swapped = [[lat, lon] for lon, lat in SQUARE]
    with pytest.raises(geo.GeometryError, match=r"outside China; positions are \[longitude, latitude\]"):
        geo.to_shape(_polygon(swapped))
    with pytest.raises(geo.GeometryError, match="outside China"):
        geo.to_shape({"type": "Point", "coordinates": [39.9, 116.4]})


def test_vertex_cap_and_unknown_members_are_refused() -> None:
    many = [[116.4 + 0.01 * math.cos(t / 1000), 39.9 + 0.01 * math.sin(t / 1000)] for t in range(6000)]
    with pytest.raises(geo.GeometryError, match=r"length <= 5000|more than 5000"):
        geo.to_shape(_polygon([*many, many[0]]))
    with pytest.raises(geo.GeometryError, match="unknown field"):
        geo.to_shape({"type": "Point", "coordinates": [116.4, 39.9], "crs": "x"})


def test_gcj02_input_is_converted_to_wgs84() -> None:
    gcj = geo.to_shape({"type": "Point", "coordinates": [116.4, 39.9]}, coordinate_system="gcj02")
    offset = geo.distance_m(gcj, shapely.Point(116.4, 39.9))
    assert 400 < offset < 700  # DOMAIN §6.4: ~555 m at Tiananmen: bigger than any buffer


def test_geometry_error_from_a_struct_names_the_field() -> None:
    with pytest.raises(geo.GeometryError) as info:
        geo.to_shape(msgspec.convert(_polygon([[lat, lon] for lon, lat in SQUARE]), Polygon), field="venue")
    assert info.value.field == "venue.coordinates"
