"""The designated-place index: which zones count, when, where; and that the change counter alone decides when it
is rebuilt (committed sessions outside the rollback fixture for the last part)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.models import Account, Jurisdiction
from tests.clock import START, city_time
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import bump_change_counter, make_venue, wgs
from venues import designated
from venues.designated import DesignatedIndex, _SharedRun, find_designated_places
from venues.models import Venue, VenueRevision

CITY = ZoneInfo("Asia/Shanghai")
CENTRE = wgs(shapely.Point(0, 0))
DESIGNATION: dict[str, Any] = {
    "designation_authority": "北京市东城区人民政府",
    "designation_document_number": "东政发〔2026〕12号",
    "designated_on": dt.date(2026, 3, 1),
}


async def make_zone(session: AsyncSession, office: Account, **overrides: Any) -> Venue:
    """A designated morning market of 40 × 40 m around the centre, every day 06:00–22:00."""
    fields: dict[str, Any] = {"kind": "designated_zone", "name": "东华门早市", **DESIGNATION, **overrides}
    return await make_venue(session, jurisdiction_code=office.jurisdiction_code, created_by=office, **fields)


@pytest.fixture
async def office(session: AsyncSession) -> Account:
    jurisdiction = await make_jurisdiction(session)
    return await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)


@pytest.fixture
def index() -> DesignatedIndex:
    return DesignatedIndex(CITY)


async def found(
    session: AsyncSession, index: DesignatedIndex, at: dt.datetime = START, point: shapely.Geometry = CENTRE
) -> list[designated.DesignatedPlace]:
    return await find_designated_places(session, index, point=point, at=at)


async def test_a_designated_zone_answers_with_its_revision_designation_and_session(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    zone = await make_zone(session, office, allowed_categories=["agricultural_products"], version=3)
    [place] = await found(session, index)
    assert place.venue_id == zone.id
    assert place.venue_revision == 3
    assert place.name == "东华门早市"
    assert place.jurisdiction_code == office.jurisdiction_code
    assert place.designation == designated.Designation(
        authority="北京市东城区人民政府", document_number="东政发〔2026〕12号", designated_on=dt.date(2026, 3, 1)
    )
    assert place.allowed_categories == ["agricultural_products"]
    assert (place.opens_at, place.closes_at) == (city_time(2026, 6, 15, 6), city_time(2026, 6, 15, 22))


async def test_a_proposed_zone_and_other_kinds_never_count(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    await make_zone(session, office, designation_authority=None, designation_document_number=None, designated_on=None)
    await make_venue(session, jurisdiction_code=office.jurisdiction_code, created_by=office)  # community space
    assert await found(session, index) == []


async def test_a_point_outside_finds_nothing_and_one_on_the_boundary_counts(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    # Drawn in WGS84 degrees so the boundary point is exactly on the edge (no projection round trip).
    square = {
        "type": "Polygon",
        "coordinates": [[[116.41, 39.93], [116.411, 39.93], [116.411, 39.931], [116.41, 39.931], [116.41, 39.93]]],
    }
    zone = await make_zone(session, office, geometry=square)
    on_edge = shapely.Point(116.41, 39.9305)
    at_corner = shapely.Point(116.411, 39.931)
    just_outside = shapely.Point(116.409999, 39.9305)
    assert [p.venue_id for p in await found(session, index, point=on_edge)] == [zone.id]
    assert [p.venue_id for p in await found(session, index, point=at_corner)] == [zone.id]
    assert await found(session, index, point=just_outside) == []
    assert await found(session, index, point=shapely.Point(116.5, 39.95)) == []


async def test_overlapping_zones_answer_in_venue_id_order(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    zones = [await make_zone(session, office, id=uuid.uuid4()) for _ in range(3)]
    places = await found(session, index)
    assert [p.venue_id for p in places] == sorted(z.id for z in zones)


async def test_a_session_past_midnight_belongs_to_the_day_it_opens(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    # Friday 18:00 to Saturday 02:00; 2026-06-19 is a Friday. Saturday is a closed date, Friday is not.
    night = [{"days": [5], "start": "18:00", "end": "02:00"}]
    zone = await make_zone(session, office, schedule=night, closed_dates=[dt.date(2026, 6, 20)])
    [place] = await found(session, index, at=city_time(2026, 6, 20, 1, 30))
    assert (place.opens_at, place.closes_at) == (city_time(2026, 6, 19, 18), city_time(2026, 6, 20, 2))
    assert await found(session, index, at=city_time(2026, 6, 20, 2)) == []  # closing instant excluded
    assert await found(session, index, at=city_time(2026, 6, 19, 17, 59)) == []
    assert len(await found(session, index, at=city_time(2026, 6, 19, 18))) == 1  # opening instant included
    # The same night with Friday closed: nothing on Saturday morning either.
    assert await found(session, index, at=city_time(2026, 6, 27, 1)) != []
    await session.execute(update(Venue).where(Venue.id == zone.id).values(closed_dates=[dt.date(2026, 6, 26)]))
    await bump_change_counter(session)
    assert await found(session, index, at=city_time(2026, 6, 27, 1)) == []


async def test_a_closed_date_finds_nothing(session: AsyncSession, office: Account, index: DesignatedIndex) -> None:
    await make_zone(session, office, closed_dates=[dt.date(2026, 6, 15)])
    assert await found(session, index) == []
    assert len(await found(session, index, at=START + dt.timedelta(days=1))) == 1


async def test_validity_is_judged_by_the_day_the_session_opens(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    night = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "20:00", "end": "01:00"}]
    await make_zone(session, office, schedule=night, valid_from=dt.date(2026, 6, 10), valid_to=dt.date(2026, 6, 15))
    assert len(await found(session, index, at=city_time(2026, 6, 16, 0, 30))) == 1  # opened on the 15th
    assert await found(session, index, at=city_time(2026, 6, 16, 20, 30)) == []  # the 16th: no longer valid
    assert await found(session, index, at=city_time(2026, 6, 10, 0, 30)) == []  # opened on the 9th: not yet
    assert len(await found(session, index, at=city_time(2026, 6, 10, 20, 30))) == 1


async def test_a_designation_counts_from_its_date(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    await make_zone(session, office, designated_on=dt.date(2026, 6, 16))
    assert await found(session, index) == []
    assert len(await found(session, index, at=START + dt.timedelta(days=1))) == 1


async def test_a_suspension_holds_for_its_period_only(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    await make_zone(
        session,
        office,
        status="suspended",
        status_reason="道路施工",
        status_from=city_time(2026, 6, 15, 9),
        status_until=city_time(2026, 6, 15, 11),
    )
    assert await found(session, index, at=city_time(2026, 6, 15, 9)) == []
    assert await found(session, index, at=city_time(2026, 6, 15, 10, 59)) == []
    assert len(await found(session, index, at=city_time(2026, 6, 15, 8, 59))) == 1
    assert len(await found(session, index, at=city_time(2026, 6, 15, 11))) == 1


async def test_a_suspension_without_an_end_and_a_closure_hold_from_their_start(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    suspended = await make_zone(session, office, status="suspended", status_from=None, status_until=None)
    closed = await make_zone(session, office, status="closed", status_from=city_time(2026, 6, 15, 12))
    assert [p.venue_id for p in await found(session, index)] == [closed.id]
    assert await found(session, index, at=city_time(2026, 6, 15, 12)) == []
    assert suspended.id not in [p.venue_id for p in await found(session, index, at=city_time(2027, 1, 4, 10))]


async def test_the_callers_uncommitted_change_is_seen_but_never_shared(
    session: AsyncSession, office: Account, index: DesignatedIndex
) -> None:
    """Inside the rollback fixture every transaction has written: each answer is built for the call alone."""
    await make_zone(session, office)
    assert len(await found(session, index)) == 1
    assert index.rebuilds == 0


async def test_an_aware_instant_is_required(session: AsyncSession, index: DesignatedIndex) -> None:
    with pytest.raises(ValueError, match="aware"):
        await found(session, index, at=dt.datetime(2026, 6, 15, 10))  # noqa: DTZ001 - the point of the test


def test_the_index_lives_in_the_apps_state() -> None:
    from litestar.datastructures import State

    one, two = State({"settings": _Zoned()}), State({"settings": _Zoned()})
    assert designated.index_of(one) is designated.index_of(one)
    assert designated.index_of(one) is not designated.index_of(two)
    assert designated.index_of(one).zone == CITY


class _Zoned:
    timezone = "Asia/Shanghai"


# --- The counter decides: committed data, outside the rollback fixture --------------------------------------------


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], Account]]:
    """A committing sessionmaker and a street office; every venue it made is deleted afterwards."""
    maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    async with maker() as session:
        jurisdiction = await make_jurisdiction(session)
        office = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
        await session.commit()
    try:
        yield maker, office
    finally:
        async with maker() as session:
            venues = (await session.scalars(_venues_of(office))).all()
            await session.execute(delete(VenueRevision).where(VenueRevision.venue_id.in_(venues)))
            await session.execute(delete(Venue).where(Venue.id.in_(venues)))
            await bump_change_counter(session)
            await session.execute(delete(Account).where(Account.id == office.id))
            await session.execute(delete(Jurisdiction).where(Jurisdiction.code == office.jurisdiction_code))
            await session.commit()


def _venues_of(office: Account) -> Any:
    from sqlalchemy import select

    return select(Venue.id).where(Venue.created_by == office.id)


@pytest.mark.concurrency
async def test_the_index_is_rebuilt_when_and_only_when_the_counter_moves(
    committed: tuple[async_sessionmaker[AsyncSession], Account], index: DesignatedIndex
) -> None:
    maker, office = committed
    async with maker() as session:
        zone = await make_zone(session, office)  # bumps the counter
        await session.commit()
    async with maker() as session:
        assert [p.name for p in await found(session, index)] == ["东华门早市"]
        assert [p.name for p in await found(session, index)] == ["东华门早市"]
    assert index.rebuilds == 1

    # A venue write that forgot to bump the counter is not seen: the counter is what the index checks.
    async with maker() as session:
        await session.execute(update(Venue).where(Venue.id == zone.id).values(name="东华门夜市"))
        await session.commit()
    async with maker() as session:
        assert [p.name for p in await found(session, index)] == ["东华门早市"]
    assert index.rebuilds == 1

    async with maker() as session:
        await bump_change_counter(session)
        await session.commit()
    async with maker() as session:
        assert [p.name for p in await found(session, index)] == ["东华门夜市"]
    assert index.rebuilds == 2


@pytest.mark.concurrency
async def test_a_change_seen_uncommitted_never_reaches_the_shared_index(
    committed: tuple[async_sessionmaker[AsyncSession], Account], index: DesignatedIndex
) -> None:
    maker, office = committed
    async with maker() as session:
        zone = await make_zone(session, office)
        await session.commit()
    async with maker() as session:
        assert len(await found(session, index)) == 1
    async with maker() as writer:
        await writer.execute(update(Venue).where(Venue.id == zone.id).values(status="closed"))
        await bump_change_counter(writer)
        assert await found(writer, index) == []  # the writer sees its own change
        await writer.rollback()
    async with maker() as session:
        assert len(await found(session, index)) == 1  # nobody else ever did
    assert index.rebuilds == 1


@pytest.mark.concurrency
async def test_concurrent_callers_after_a_change_rebuild_once(
    committed: tuple[async_sessionmaker[AsyncSession], Account], index: DesignatedIndex
) -> None:
    maker, office = committed
    async with maker() as session:
        await make_zone(session, office)
        await session.commit()

    async def one() -> int:
        async with maker() as session:
            return len(await found(session, index))

    assert await asyncio.gather(*(one() for _ in range(10))) == [1] * 10
    assert index.rebuilds == 1
    async with maker() as session:
        await make_zone(session, office, id=uuid.uuid4())
        await session.commit()
    assert await asyncio.gather(*(one() for _ in range(10))) == [2] * 10
    assert index.rebuilds == 2


@pytest.mark.concurrency
async def test_the_public_path_reads_through_its_own_sessions(
    committed: tuple[async_sessionmaker[AsyncSession], Account], index: DesignatedIndex
) -> None:
    maker, office = committed
    try:
        assert await index.find_now(maker, point=CENTRE, at=START) == []
        async with maker() as session:
            await make_zone(session, office)
            await session.commit()
        answers = await asyncio.gather(*(index.find_now(maker, point=CENTRE, at=START) for _ in range(20)))
        assert [len(a) for a in answers] == [1] * 20
        assert index.rebuilds == 2
    finally:
        await index.close()


# --- Shared runs: each caller gets a run that started after it called ----------------------------------------


async def test_a_shared_run_never_answers_a_caller_from_a_run_started_before_it() -> None:
    started: list[int] = []
    running = asyncio.Event()
    release = asyncio.Event()

    async def run() -> int:
        started.append(len(started) + 1)
        number = len(started)
        running.set()
        await release.wait()
        return number

    shared = _SharedRun(run)
    first = asyncio.ensure_future(shared())
    await running.wait()
    assert started == [1]
    # These two arrive while run 1 is going: run 1 may have read before they asked, so they share run 2.
    late = [asyncio.ensure_future(shared()), asyncio.ensure_future(shared())]
    for _ in range(3):
        await asyncio.sleep(0)
    assert started == [1]
    release.set()
    assert await first == 1
    assert await asyncio.gather(*late) == [2, 2]
    assert started == [1, 2]


async def test_a_shared_run_hands_its_failure_to_every_caller() -> None:
    async def run() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("database gone")

    shared = _SharedRun(run)
    results = await asyncio.gather(shared(), shared(), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
