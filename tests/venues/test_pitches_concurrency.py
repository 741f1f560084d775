"""Ten overlapping pitches drawn at the same moment in one venue: exactly one is drawn, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Account, Jurisdiction
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import box, make_venue
from venues.models import Pitch, PitchRevision, Venue, VenueRevision

pytestmark = pytest.mark.concurrency
DRAWERS = 10


@pytest.fixture
async def pooled_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own with a real pool: the requests must hold separate connections at once."""
    engine = create_async_engine(sqlalchemy_url(database_url), pool_size=DRAWERS, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _warm(engine: AsyncEngine) -> None:
    """Open every pooled connection first: connecting takes long enough to serialise the race otherwise."""
    connections = await asyncio.gather(*(engine.connect() for _ in range(DRAWERS)))
    for connection in connections:
        await connection.close()


async def _cleanup(sessionmaker: async_sessionmaker[Any], made: dict[str, Any]) -> None:
    async with transaction(sessionmaker) as session:
        venue_id = made["venue"].id
        pitch_ids = select(Pitch.id).where(Pitch.venue_id == venue_id)
        await session.execute(delete(PitchRevision).where(PitchRevision.pitch_id.in_(pitch_ids)))
        await session.execute(delete(Pitch).where(Pitch.venue_id == venue_id))
        await session.execute(delete(VenueRevision).where(VenueRevision.venue_id == venue_id))
        await session.execute(delete(Venue).where(Venue.id == venue_id))
        await session.execute(delete(Account).where(Account.id.in_([a.id for a in made["staff"]])))
        await session.execute(delete(Jurisdiction).where(Jurisdiction.code == made["jurisdiction"].code))


async def test_ten_overlapping_pitches_at_once_draw_exactly_one(pooled_engine: AsyncEngine, settings: Settings) -> None:
    """Each request commits on its own connection; the venue lock makes each check see the winner's pitch."""
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        jurisdiction = await make_jurisdiction(session)
        staff = [
            await make_account(session, "street_office", jurisdiction_code=jurisdiction.code) for _ in range(DRAWERS)
        ]
        venue = await make_venue(session, jurisdiction_code=jurisdiction.code, created_by=staff[0])
    made = {"jurisdiction": jurisdiction, "staff": staff, "venue": venue}
    await _warm(pooled_engine)
    app = create_app(settings, sessionmaker=sessionmaker)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            start = asyncio.Event()

            async def draw(index: int) -> httpx.Response:
                # Every pitch overlaps every other one (each shifted 5 cm east of the last), labels differ.
                body = {"label": f"A-{index:02d}", "geometry": box(0.05 * index, 0, 1 + 0.05 * index, 1)}
                await start.wait()
                return await client.post(
                    f"/api/v1/venues/{venue.id}/pitches", json=body, headers=auth_headers(settings, staff[index])
                )

            tasks = [asyncio.create_task(draw(index)) for index in range(DRAWERS)]
            await asyncio.sleep(0)
            start.set()
            responses = await asyncio.gather(*tasks)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [422] * (DRAWERS - 1), [r.text for r in responses]
        for response in responses:
            if response.status_code == 422:
                body = assert_problem(response, 422, "pitch_rejected")
                assert [c["check"] for c in body["checks"] if not c["passed"]] == ["no_overlap"]
        async with sessionmaker() as session:
            drawn = await session.scalar(select(func.count()).where(Pitch.venue_id == venue.id))
            assert drawn == 1
    finally:
        await _cleanup(sessionmaker, made)
