"""GCJ-02 conversion at the API edge (DOMAIN.md §6.4 reference vector)."""

from __future__ import annotations

import pytest

from core.coords import gcj02_to_wgs84, point_from_gcj02, wgs84_to_gcj02
from core.geojson import Point


def test_forward_transform_matches_the_published_vector() -> None:
    lon, lat = wgs84_to_gcj02(120.0, 40.0)
    assert lon == pytest.approx(120.00567568355486, abs=1e-12)
    assert lat == pytest.approx(40.0013047896019, abs=1e-12)


@pytest.mark.parametrize(("lon", "lat"), [(116.397, 39.909), (121.475, 31.233), (104.066, 30.657)])
def test_inverse_round_trips_below_a_millimetre(lon: float, lat: float) -> None:
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    # 1e-8 degrees is about a millimetre at these latitudes.
    assert back_lon == pytest.approx(lon, abs=1e-8)
    assert back_lat == pytest.approx(lat, abs=1e-8)


def test_point_from_gcj02_moves_the_point_back_by_hundreds_of_metres() -> None:
    gcj = wgs84_to_gcj02(116.397, 39.909)
    converted = point_from_gcj02(Point(coordinates=list(gcj)))
    assert converted.coordinates == pytest.approx([116.397, 39.909], abs=1e-8)
    assert abs(gcj[0] - 116.397) > 0.004  # the offset near Tiananmen is about 550 m
