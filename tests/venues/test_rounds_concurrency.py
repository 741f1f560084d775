"""Races the database decides: 30 applications of one vendor at once, several draws of one round at once, two
releases of one allocation at once. Each request runs in its own committing session on a pooled engine, on a
database of this module's own (dropped at the end), through the app as clients call it: no 5xx, one winner.
The applications go alternately to two real `flexreg serve` processes on that database (tests/venues/servers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.clock import FixedClock
from core.db import create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from tests.clock import START
from tests.conftest import migrated_database
from tests.registry.builders import make_vendor
from tests.venues.round_builders import CLOSE, Applied, make_applied_round
from tests.venues.servers import Served, flexreg_servers
from venues.models import Allocation, AllocationRound, RoundApplication, Venue

pytestmark = pytest.mark.concurrency
APPLICANTS = 30
AFTER_CLOSE = CLOSE + dt.timedelta(minutes=5)


@pytest.fixture(scope="module")
async def race_url(server_url: str) -> AsyncIterator[str]:
    name = f"flexreg_round_races_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def pooled(race_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(sqlalchemy_url(race_url), pool_size=APPLICANTS + 5, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def client(pooled: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, sessionmaker=create_sessionmaker(pooled))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _applied(pooled: AsyncEngine, settings: Settings, **fields: Any) -> Applied:
    async with transaction(create_sessionmaker(pooled)) as session:
        return await make_applied_round(session, settings, **fields)


async def _at_once(count: int, send: Callable[[int], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    start = asyncio.Event()

    async def one(index: int) -> httpx.Response:
        await start.wait()
        return await send(index)

    tasks = [asyncio.create_task(one(index)) for index in range(count)]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks)


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


async def _count(pooled: AsyncEngine, query: Any) -> int:
    async with create_sessionmaker(pooled)() as session:
        return int(await session.scalar(query) or 0)


@pytest.fixture(scope="module")
def two_servers(race_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Two `flexreg serve` processes on this module's database ("Done when": races across app processes)."""
    with flexreg_servers(race_url, settings, tmp_path_factory.mktemp("round-race")) as servers:
        yield servers


async def test_thirty_applications_of_one_vendor_at_once_make_one(
    two_servers: Served, pooled: AsyncEngine, settings: Settings
) -> None:
    # The servers run on the real clock: the round closes a day after their now, its term starts after that.
    close = two_servers.now + dt.timedelta(days=1)
    term_start = close.astimezone(ZoneInfo(settings.timezone)).date() + dt.timedelta(days=1)
    made = await _applied(
        pooled,
        settings,
        pitches=3,
        vendors=0,
        applications_close_at=close,
        term_start=term_start,
        term_end=term_start + dt.timedelta(days=30),
        created_at=two_servers.now,
    )
    async with transaction(create_sessionmaker(pooled)) as session:
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=made.place.jurisdiction.code)
    made.place.vendors.append(vendor)
    url = f"{made.url}/applications"
    choices = [str(pitch.id) for pitch in made.place.pitches]

    limits = httpx.Limits(max_connections=APPLICANTS, max_keepalive_connections=APPLICANTS)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60, limits=limits))
            for base in two_servers.bases
        ]
        # Alternately to the two processes.
        responses = await _at_once(
            APPLICANTS,
            lambda index: clients[index % 2].post(
                url, json={"choices": choices[index % 3 :] or choices}, headers=made.place.as_vendor()
            ),
        )
    assert _statuses(responses) == [201] + [409] * (APPLICANTS - 1), [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_applied"}
    rows = select(func.count()).where(RoundApplication.round_id == made.round.id)
    assert await _count(pooled, rows) == 1


async def test_a_round_is_drawn_once_however_many_draw_at_once(
    client: httpx.AsyncClient, pooled: AsyncEngine, settings: Settings, clock: FixedClock
) -> None:
    made = await _applied(pooled, settings, pitches=3, vendors=6)
    clock.set(AFTER_CLOSE)
    headers = [made.place.as_office(), made.place.as_admin()]
    responses = await _at_once(5, lambda index: client.post(f"{made.url}/draw", json={}, headers=headers[index % 2]))
    assert _statuses(responses) == [200, 409, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"round_already_drawn"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert await _count(pooled, select(func.count()).where(Allocation.round_id == made.round.id)) == 3
    async with create_sessionmaker(pooled)() as session:
        stored = await session.scalar(select(AllocationRound.result).where(AllocationRound.id == made.round.id))
    assert stored is not None
    assert stored["order"] == winner["order"]


async def test_two_releases_of_one_allocation_at_once_have_one_winner(
    client: httpx.AsyncClient, pooled: AsyncEngine, settings: Settings, clock: FixedClock
) -> None:
    made = await _applied(pooled, settings, pitches=2, vendors=4)
    clock.set(AFTER_CLOSE)
    results = (await client.post(f"{made.url}/draw", json={}, headers=made.place.as_office())).json()
    holder = next(i for i, ref in made.refs.items() if ref == results["assignments"][0]["applicant_ref"])
    mine = (await client.get(f"{made.url}/my-result", headers=made.place.as_vendor(holder))).json()
    url = f"/api/v1/allocations/{mine['allocation_id']}/release"

    responses = await _at_once(2, lambda _: client.post(url, headers=made.place.as_vendor(holder)))
    assert _statuses(responses) == [200, 409], [r.text for r in responses]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "allocation_released"
    passed = select(func.count()).where(Allocation.round_id == made.round.id, Allocation.source == "waiting_list")
    assert await _count(pooled, passed) == 1


async def test_an_application_waits_for_a_closure_of_its_venue_in_flight(
    client: httpx.AsyncClient, pooled: AsyncEngine, settings: Settings
) -> None:
    """A closure holds the venue FOR UPDATE (as change_venue_status does); an application for a pitch of it takes
    the venue FOR SHARE before it reads the status, so it waits, then sees the closure: 409, nothing written."""
    made = await _applied(pooled, settings, pitches=2, vendors=0)
    sessions = create_sessionmaker(pooled)
    async with transaction(sessions) as session:
        made.place.vendors.append(
            await make_vendor(session, settings, residence_jurisdiction_code=made.place.jurisdiction.code)
        )
    url = f"{made.url}/applications"
    async with sessions() as closer, closer.begin():
        await closer.execute(select(Venue.id).where(Venue.id == made.place.venue.id).with_for_update())
        await closer.execute(
            update(Venue)
            .where(Venue.id == made.place.venue.id)
            .values(status="closed", status_reason="社区改造", status_from=START)
        )
        apply = asyncio.create_task(
            client.post(url, json={"choices": [str(made.place.pitches[0].id)]}, headers=made.place.as_vendor())
        )
        # Until the application is seen waiting for a lock (or, wrongly, has answered without waiting).
        for _ in range(600):  # a guard against a hang, not a timing threshold
            if apply.done():
                break
            async with sessions() as probe:
                waiting = await probe.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                break
            await asyncio.sleep(0.05)
    response = await apply
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "venue_not_open"
    assert await _count(pooled, select(func.count()).where(RoundApplication.round_id == made.round.id)) == 0
