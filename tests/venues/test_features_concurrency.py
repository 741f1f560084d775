"""A restricted feature recorded or moved while a pitch in its reach is being marked: the feature waits for the
pitch's venue lock and so lists that pitch as affected (it cannot slip between the pitch's check and commit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Account, Jurisdiction
from tests.builders import auth_headers
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import box, make_pitch, make_venue, point
from venues.models import Pitch, PitchRevision, RestrictedFeature, Venue, VenueRevision

pytestmark = pytest.mark.concurrency
FEATURES = "/api/v1/restricted-features"


@pytest.fixture
async def pooled_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(sqlalchemy_url(database_url), pool_size=4, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _waiting_on_a_lock(engine: AsyncEngine, call: asyncio.Task[httpx.Response]) -> None:
    """Return once some backend waits for a row lock of venues_venue; fail if the call finishes first."""
    async with engine.connect() as watcher:
        while not call.done():
            waiting = await watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%venues_venue%FOR UPDATE%'"
                )
            )
            await watcher.rollback()  # a fresh snapshot of pg_stat_activity next time
            if waiting:
                return
            await asyncio.sleep(0.02)
    pytest.fail(f"the feature was written without waiting for the venue being marked: {call.result().text}")


async def _race(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    made: dict[str, Any],
    send: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response:
    """Mark a pitch as pitches.mark_pitch does (venue locked, pitch inserted, not yet committed), send the
    feature request meanwhile, and commit the pitch only once that request waits for the venue."""
    async with sessionmaker() as marking, marking.begin():
        await marking.execute(select(Venue.id).where(Venue.id == made["venue"].id).with_for_update())
        pitch = await make_pitch(
            marking, venue=made["venue"], created_by=made["staff"], label="A-01", geometry=box(-0.5, -0.5, 0.5, 0.5)
        )
        made["pitch_ids"].append(pitch.id)
        call = asyncio.create_task(send())
        await asyncio.wait_for(_waiting_on_a_lock(engine, call), timeout=60)
    return await asyncio.wait_for(call, timeout=60)


async def _cleanup(sessionmaker: async_sessionmaker[AsyncSession], made: dict[str, Any]) -> None:
    async with transaction(sessionmaker) as session:
        code = made["jurisdiction"].code
        await session.execute(delete(RestrictedFeature).where(RestrictedFeature.jurisdiction_code == code))
        await session.execute(delete(PitchRevision).where(PitchRevision.pitch_id.in_(made["pitch_ids"])))
        await session.execute(delete(Pitch).where(Pitch.venue_id == made["venue"].id))
        await session.execute(delete(VenueRevision).where(VenueRevision.venue_id == made["venue"].id))
        await session.execute(delete(Venue).where(Venue.id == made["venue"].id))
        await session.execute(delete(Account).where(Account.id == made["staff"].id))
        await session.execute(delete(Jurisdiction).where(Jurisdiction.code == code))


@pytest.mark.parametrize("how", ["recorded", "moved"])
async def test_a_feature_written_while_a_pitch_in_its_reach_is_marked_lists_that_pitch(
    pooled_engine: AsyncEngine, settings: Settings, how: str
) -> None:
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        jurisdiction = await make_jurisdiction(session)
        staff = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
        venue = await make_venue(session, jurisdiction_code=jurisdiction.code, created_by=staff)
    made: dict[str, Any] = {"jurisdiction": jurisdiction, "staff": staff, "venue": venue, "pitch_ids": []}
    app: Litestar = create_app(settings, sessionmaker=sessionmaker)
    headers = auth_headers(settings, staff)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            # A hydrant 1 m from the pitch's edge: well inside every category's buffer.
            hydrant = {"kind": "fire_hydrant", "geometry": point(1.5, 0)}
            if how == "recorded":
                response = await _race(
                    pooled_engine, sessionmaker, made, lambda: client.post(FEATURES, json=hydrant, headers=headers)
                )
                assert response.status_code == 201, response.text
            else:
                far = {"kind": "fire_hydrant", "geometry": point(0, -300)}
                recorded = await client.post(FEATURES, json=far, headers=headers)
                assert recorded.status_code == 201, recorded.text
                assert recorded.json()["affected_pitches"] == []
                path = f"{FEATURES}/{recorded.json()['id']}"
                response = await _race(
                    pooled_engine,
                    sessionmaker,
                    made,
                    lambda: client.patch(
                        path, json={"geometry": hydrant["geometry"]}, headers={**headers, "If-Match": '"1"'}
                    ),
                )
                assert response.status_code == 200, response.text
        assert [a["pitch_id"] for a in response.json()["affected_pitches"]] == [str(made["pitch_ids"][0])]
    finally:
        await _cleanup(sessionmaker, made)
