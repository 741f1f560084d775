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


# WGS84 -> GCJ-02 pairs in and around Dongcheng, computed with an independent implementation, prcoords 1.0.2
# (https://github.com/Arthur2e5/prcoords, `wgs_gcj` and its precise inverse `gcj_wgs_bored`), not with ours.
PRCOORDS_VECTORS = [
    ((116.4039, 39.9151), (116.41014452767836, 39.91650429185153)),
    ((116.397, 39.909), (116.40324350604497, 39.91040339728811)),
    ((116.4175, 39.9412), (116.42374054015313, 39.94260042834154)),
    ((116.3801, 39.8602), (116.38632619569064, 39.86159112901056)),
    ((116.4485, 39.9725), (116.45468956996078, 39.973860097281246)),
]


@pytest.mark.parametrize(("wgs", "gcj"), PRCOORDS_VECTORS)
def test_conversion_agrees_with_an_outside_implementation_to_a_centimetre(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    # 1e-7 degrees is about 1 cm of latitude, and 0.85 cm of longitude at Beijing.
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-7)
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-7)
