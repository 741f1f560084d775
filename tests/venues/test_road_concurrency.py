"""The database decides road-occupancy races, across app processes: two `flexreg serve` on two ports, one
PostgreSQL database, requests sent at the same moment.

- 100 vendors ask at once for footprints that overlap in a chain (footprint i overlaps i + 1) for one period,
  half to each process: no two approved occupancies intersect, every loser gets a clean 4xx, nothing 5xx.
- Ten withdrawals of one occupancy at once: one succeeds, the others are told it is no longer active.

The servers run on the real clock (as in production), so the period and the zone's dates are taken from the
servers' own `Date` header, not from the suite's fixed clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import create_engine, create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Vendor
from tests.conftest import migrated_database
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.builders import box
from tests.venues.road_builders import make_occupancy, make_road_zone, period
from tests.venues.servers import Servers, serving
from venues import geo
from venues.models import RoadOccupancy, Venue

pytestmark = pytest.mark.concurrency

CITY = ZoneInfo("Asia/Shanghai")
VENDORS = 100
URL = "/api/v1/road-occupancy-requests"


@pytest.fixture(scope="module")
def served(server_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Two `flexreg serve` processes on one migrated scratch database, with the suite's signing keys."""
    name = f"flexreg_road_race_{os.getpid()}"
    url = asyncio.run(migrated_database(server_url, name))
    try:
        with serving(url, settings, tmp_path_factory.mktemp("road-race")) as servers:
            yield servers
    finally:
        asyncio.run(drop_database(server_url, name))


@pytest.fixture
async def committing(served: Servers) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(served.database_url), poolclass=NullPool)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass
class Street:
    zone: Venue
    vendors: list[Vendor]
    period: tuple[dt.datetime, dt.datetime]


async def _street(committing: async_sessionmaker[AsyncSession], settings: Settings, served: Servers, n: int) -> Street:
    """A sidewalk zone valid around the servers' today, `n` vendors, and tomorrow 10:00–12:00 in the city."""
    today = served.now.astimezone(CITY).date()
    tomorrow = today + dt.timedelta(days=1)
    async with transaction(committing) as session:
        place = await make_jurisdiction(session)
        staff = await make_account(session, "street_office", jurisdiction_code=place.code)
        zone = await make_road_zone(
            session,
            jurisdiction_code=place.code,
            created_by=staff,
            geometry=box(-2, 0, VENDORS + 2, 3.6),
            valid_from=today - dt.timedelta(days=1),
            joint_approval_valid_to=today + dt.timedelta(days=30),
        )
        vendors = [await make_vendor(session, settings, residence_jurisdiction_code=place.code) for _ in range(n)]
    start = dt.datetime.combine(tomorrow, dt.time(10, 0), tzinfo=CITY)
    return Street(zone=zone, vendors=vendors, period=(start, start + dt.timedelta(hours=2)))


def _link(i: int) -> dict[str, Any]:
    """Footprint i of the chain: 1.2 × 1.2 m starting at x = i m, so it overlaps i - 1 and i + 1 by 0.2 m."""
    return box(i, 0, i + 1.2, 1.2)


async def test_a_hundred_requests_for_a_chain_of_overlapping_footprints_never_approve_two_that_meet(
    served: Servers, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    street = await _street(committing, settings, served, VENDORS)
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=VENDORS, max_keepalive_connections=VENDORS)

    async def request(client: httpx.AsyncClient, i: int) -> httpx.Response:
        body = {
            "zone_id": str(street.zone.id),
            "footprint": _link(i),
            "periods": [period(*street.period)],
            "activity_code": "shoe_repair",
        }
        await start.wait()
        return await client.post(URL, json=body, headers=vendor_headers(settings, street.vendors[i]))

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60, limits=limits))
            for base in served.bases
        ]
        # Interleaved: neighbours in the chain go to different processes.
        tasks = [asyncio.create_task(request(clients[i % 2], i)) for i in range(VENDORS)]
        await asyncio.sleep(0.2)
        start.set()
        responses = await asyncio.gather(*tasks)

    statuses = [r.status_code for r in responses]
    assert all(status < 500 for status in statuses), [r.text for r in responses if r.status_code >= 500]
    codes = {r.json()["code"] for r in responses if r.status_code != 201}
    assert codes <= {"road_occupancy_refused", "zone_busy"}, codes
    assert all(r.status_code in (201, 409, 422) for r in responses)
    won = {i for i, r in enumerate(responses) if r.status_code == 201}
    assert won, "someone must win"
    # No two neighbours can both have been approved; refused ones were refused for that overlap.
    assert not any(i + 1 in won for i in won)
    for r in responses:
        if r.status_code == 422:
            assert [c["check"] for c in r.json()["checks"] if not c["passed"]] == ["no_overlap"]

    async with committing() as session:
        rows = (
            await session.execute(
                select(RoadOccupancy.vendor_id, RoadOccupancy.footprint).where(
                    RoadOccupancy.zone_id == street.zone.id, RoadOccupancy.status == "approved"
                )
            )
        ).all()
    assert {street.vendors.index(next(v for v in street.vendors if v.id == row.vendor_id)) for row in rows} == won
    projection = geo.projection_for(116.41)
    shapes = [projection.to_metres(geo.to_shape(row.footprint)) for row in rows]
    for a, b in itertools.combinations(shapes, 2):
        assert shapely.intersection(a, b).area < 1e-4, "two approved occupancies overlap"


async def test_simultaneous_withdrawals_of_one_occupancy_have_one_winner(
    served: Servers, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    street = await _street(committing, settings, served, 1)
    [vendor] = street.vendors
    async with transaction(committing) as session:
        occupancy = await make_occupancy(
            session, zone=street.zone, vendor=vendor, footprint=_link(0), periods=[street.period]
        )
    start = asyncio.Event()

    async def withdraw(client: httpx.AsyncClient) -> httpx.Response:
        await start.wait()
        return await client.post(f"{URL}/{occupancy.id}/withdraw", headers=vendor_headers(settings, vendor))

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30)) for base in served.bases
        ]
        tasks = [asyncio.create_task(withdraw(clients[i % 2])) for i in range(10)]
        await asyncio.sleep(0.1)
        start.set()
        responses = await asyncio.gather(*tasks)
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"road_occupancy_not_active"}
    async with committing() as session:
        stored = await session.get(RoadOccupancy, occupancy.id)
    assert stored is not None
    assert stored.status == "withdrawn"


async def test_a_request_that_waits_too_long_for_the_zones_lock_is_told_to_retry(
    served: Servers, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """lock_timeout while another transaction holds the zone: 409 zone_busy with Retry-After, not a 500."""
    street = await _street(committing, settings, served, 1)
    impatient = msgspec.structs.replace(
        settings, db=msgspec.structs.replace(settings.db, url=served.database_url, lock_timeout_ms=200)
    )
    engine = create_engine(impatient)
    app = create_app(impatient, sessionmaker=create_sessionmaker(engine))
    body = {
        "zone_id": str(street.zone.id),
        "footprint": _link(0),
        "periods": [period(*street.period)],
        "activity_code": "shoe_repair",
    }
    try:
        async with committing() as holder, holder.begin():
            await holder.execute(select(Venue.id).where(Venue.id == street.zone.id).with_for_update())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                response = await client.post(URL, json=body, headers=vendor_headers(settings, street.vendors[0]))
        assert_problem(response, 409, "zone_busy")
        assert response.headers["retry-after"] == "1"
    finally:
        await engine.dispose()
    async with committing() as session:
        count = await session.scalar(select(func.count()).where(RoadOccupancy.zone_id == street.zone.id))
    assert count == 0
