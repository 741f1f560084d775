"""Ten overlapping pitches drawn at the same moment in one venue, sent alternately to two `flexreg serve`
processes on one database: exactly one is drawn, the other nine are rejected for the overlap, nothing 5xx."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.settings import Settings
from registry.models import Account, Jurisdiction
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import box, make_venue
from tests.venues.servers import flexreg_servers
from venues.models import Pitch, PitchRevision, Venue, VenueRevision

pytestmark = pytest.mark.concurrency
DRAWERS = 10


@pytest.fixture
async def committing(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that commit, outside the rollback fixture: the servers must see what is made."""
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


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


async def test_ten_overlapping_pitches_at_once_draw_exactly_one(
    committing: async_sessionmaker[AsyncSession], database_url: str, settings: Settings, tmp_path: Path
) -> None:
    """Each request commits in its own server's transaction; the venue lock makes each check see the winner's."""
    sessionmaker = committing
    async with transaction(sessionmaker) as session:
        jurisdiction = await make_jurisdiction(session)
        staff = [
            await make_account(session, "street_office", jurisdiction_code=jurisdiction.code) for _ in range(DRAWERS)
        ]
        venue = await make_venue(session, jurisdiction_code=jurisdiction.code, created_by=staff[0])
    made = {"jurisdiction": jurisdiction, "staff": staff, "venue": venue}
    try:
        with flexreg_servers(database_url, settings, tmp_path, count=2) as served:
            limits = httpx.Limits(max_connections=DRAWERS, max_keepalive_connections=DRAWERS)
            async with contextlib.AsyncExitStack() as stack:
                clients = [
                    await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60, limits=limits))
                    for base in served.bases
                ]
                start = asyncio.Event()

                async def draw(index: int) -> httpx.Response:
                    # Every pitch overlaps every other one (each shifted 5 cm east of the last), labels differ;
                    # neighbours go to different processes.
                    body = {"label": f"A-{index:02d}", "geometry": box(0.05 * index, 0, 1 + 0.05 * index, 1)}
                    await start.wait()
                    return await clients[index % 2].post(
                        f"/api/v1/venues/{venue.id}/pitches", json=body, headers=auth_headers(settings, staff[index])
                    )

                tasks = [asyncio.create_task(draw(index)) for index in range(DRAWERS)]
                await asyncio.sleep(0.1)
                start.set()
                responses = await asyncio.gather(*tasks)
        assert all(r.status_code < 500 for r in responses), [r.text for r in responses if r.status_code >= 500]
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
