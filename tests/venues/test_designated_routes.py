"""GET /designated-places: public, by point and instant, with its parameters refused by name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from core import coords
from core.clock import FixedClock
from registry.models import Account
from tests.clock import city_time
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import wgs
from tests.venues.test_designated import make_zone

URL = "/api/v1/designated-places"
CENTRE = wgs(shapely.Point(0, 0))
LON, LAT = f"{CENTRE.x:.7f}", f"{CENTRE.y:.7f}"


@pytest.fixture
async def office(session: AsyncSession) -> Account:
    jurisdiction = await make_jurisdiction(session)
    office = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    await session.commit()
    return office


async def test_anyone_finds_a_designated_zone_at_a_point_and_instant(
    client: httpx.AsyncClient, session: AsyncSession, office: Account
) -> None:
    zone = await make_zone(session, office, allowed_categories=["agricultural_products", "daily_necessities"])
    await session.commit()
    answer = await client.get(URL, params={"lon": LON, "lat": LAT, "at": "2026-06-15T07:30:00+08:00"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "items": [
            {
                "venue_id": str(zone.id),
                "venue_revision": 1,
                "name": "东华门早市",
                "jurisdiction_code": office.jurisdiction_code,
                "designation": {
                    "authority": "北京市东城区人民政府",
                    "document_number": "东政发〔2026〕12号",
                    "designated_on": "2026-03-01",
                },
                "allowed_categories": ["agricultural_products", "daily_necessities"],
                "opens_at": "2026-06-15T06:00:00+08:00",
                "closes_at": "2026-06-15T22:00:00+08:00",
            }
        ]
    }
    # The same instant in UTC, and with a lower-case separator and fraction (RFC 3339 allows both).
    for at in ("2026-06-14T23:30:00Z", "2026-06-14t23:30:00.123456789z"):
        again = await client.get(URL, params={"lon": LON, "lat": LAT, "at": at})
        assert [item["venue_id"] for item in again.json()["items"]] == [str(zone.id)], at
    closed = await client.get(URL, params={"lon": LON, "lat": LAT, "at": "2026-06-15T22:00:00+08:00"})
    assert closed.json() == {"items": []}


async def test_without_at_the_answer_is_for_now(
    client: httpx.AsyncClient, session: AsyncSession, office: Account, clock: FixedClock
) -> None:
    await make_zone(session, office)
    await session.commit()
    assert len((await client.get(URL, params={"lon": LON, "lat": LAT})).json()["items"]) == 1
    clock.set(city_time(2026, 6, 15, 23))
    assert (await client.get(URL, params={"lon": LON, "lat": LAT})).json() == {"items": []}


async def test_a_proposed_zone_is_not_answered(
    client: httpx.AsyncClient, session: AsyncSession, office: Account
) -> None:
    await make_zone(session, office, designation_authority=None, designation_document_number=None, designated_on=None)
    await session.commit()
    assert (await client.get(URL, params={"lon": LON, "lat": LAT})).json() == {"items": []}


async def test_gcj02_coordinates_are_converted(
    client: httpx.AsyncClient, session: AsyncSession, office: Account
) -> None:
    zone = await make_zone(session, office)
    await session.commit()
    gcj_lon, gcj_lat = coords.wgs84_to_gcj02(CENTRE.x, CENTRE.y)
    params = {"lon": f"{gcj_lon:.7f}", "lat": f"{gcj_lat:.7f}"}
    # GCJ-02 is offset by a few hundred metres in Beijing: read as WGS84 the point misses the 40 m zone.
    assert (await client.get(URL, params=params)).json() == {"items": []}
    converted = (await client.get(URL, params={**params, "coordinate_system": "gcj02"})).json()
    assert [item["venue_id"] for item in converted["items"]] == [str(zone.id)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": LAT}, "lon"),
        ({"lon": LON}, "lat"),
        ({"lon": LAT, "lat": LON}, "lon"),  # swapped: 39.93 is no longitude in China
        ({"lon": LON, "lat": "116.41"}, "lat"),
        ({"lon": "nan", "lat": LAT}, "lon"),
        ({"lon": "Infinity", "lat": LAT}, "lon"),
        ({"lon": "1e400", "lat": LAT}, "lon"),
        ({"lon": "116,41", "lat": LAT}, "lon"),
        ({"lon": "", "lat": LAT}, "lon"),
        ({"lon": LON, "lat": "-39.93"}, "lat"),
        ({"lon": LON, "lat": LAT, "at": "2026-06-15T07:30:00"}, "at"),  # no offset
        ({"lon": LON, "lat": LAT, "at": "2026-06-15"}, "at"),
        ({"lon": LON, "lat": LAT, "at": "2026-02-30T07:30:00+08:00"}, "at"),
        ({"lon": LON, "lat": LAT, "at": "2026-06-15T07:30:00+24:00"}, "at"),
        ({"lon": LON, "lat": LAT, "at": "next monday"}, "at"),
        ({"lon": LON, "lat": LAT, "coordinate_system": "bd09"}, "coordinate_system"),
        ({"lon": LON, "lat": LAT, "radius": "50"}, "radius"),
    ],
)
async def test_bad_parameters_are_refused_by_name(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_problem(await client.get(URL, params=params), 400, "invalid_parameter", fields=[field])


async def test_a_repeated_parameter_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"{URL}?lon={LON}&lon={LON}&lat={LAT}")
    assert_problem(answer, 400, "invalid_parameter", fields=["lon"])


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00", "0000-01-01T00:00:00Z"])
async def test_an_instant_at_the_end_of_the_calendar_is_refused(client: httpx.AsyncClient, at: str) -> None:
    answer = await client.get(URL, params={"lon": LON, "lat": LAT, "at": at})
    assert_problem(answer, 422, "validation_failed", fields=["at"])


async def test_a_leap_second_is_read_as_the_next_minute(
    client: httpx.AsyncClient, session: AsyncSession, office: Account
) -> None:
    await make_zone(session, office, schedule=[{"days": [1], "start": "08:00", "end": "09:00"}])
    await session.commit()
    # 07:59:60 is the instant before 08:00:00 ends being 07:59:59.x: read as 08:00:00, the opening.
    answer = await client.get(URL, params={"lon": LON, "lat": LAT, "at": "2026-06-15T07:59:60+08:00"})
    assert answer.status_code == 200
    assert len(answer.json()["items"]) == 1
    assert dt.datetime.fromisoformat(answer.json()["items"][0]["opens_at"]) == city_time(2026, 6, 15, 8)
