"""The people and places the route tests of venues, pitches and restricted features share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Account, Jurisdiction
from tests.builders import NEIGHBOUR_SQUARE, auth_headers
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import ALL_CATEGORIES, EVERY_DAY, box
from venues.models import Pitch, PitchRevision, RestrictedFeature, Venue, VenueChangeCounter, VenueRevision

VENUES = "/api/v1/venues"
FEATURES = "/api/v1/restricted-features"


@dataclass
class World:
    settings: Settings
    here: Jurisdiction  # over tests.builders.DONGCHENG_SQUARE, around DONGCHENG_CENTRE
    there: Jurisdiction  # the square east of it
    staff: Account  # street office of `here`
    other_staff: Account  # street office of `there`
    admin: Account
    vendor: Account
    department: Account

    def as_(self, account: Account) -> dict[str, str]:
        return auth_headers(self.settings, account)

    @property
    def office(self) -> dict[str, str]:
        return auth_headers(self.settings, self.staff)


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    here = await make_jurisdiction(session, name="东华门街道")
    there = await make_jurisdiction(session, name="景山街道", boundary=NEIGHBOUR_SQUARE, min_lon=116.42, max_lon=116.44)
    world = World(
        settings=settings,
        here=here,
        there=there,
        staff=await make_account(session, "street_office", jurisdiction_code=here.code),
        other_staff=await make_account(session, "street_office", jurisdiction_code=there.code),
        admin=await make_account(session, "admin"),
        vendor=await make_account(session, "vendor"),
        department=await make_account(session, "department", department_code="urban_management"),
    )
    await session.commit()
    return world


def venue_body(world: World, **overrides: Any) -> dict[str, Any]:
    """A community space 40 × 40 m around DONGCHENG_CENTRE in `here`, open every day 06:00–22:00."""
    body: dict[str, Any] = {
        "name": "东华门社区服务中心便民市集",
        "kind": "community_space",
        "jurisdiction_code": world.here.code,
        "geometry": box(-20, -20, 20, 20),
        "schedule": EVERY_DAY,
        "valid_from": "2026-01-01",
        "allowed_categories": ALL_CATEGORIES,
    }
    body.update(overrides)
    return body


async def establish(client: httpx.AsyncClient, world: World, **overrides: Any) -> dict[str, Any]:
    response = await client.post(VENUES, json=venue_body(world, **overrides), headers=world.office)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def mark(client: httpx.AsyncClient, world: World, venue_id: str, label: str, geometry: Any) -> httpx.Response:
    return await client.post(
        f"{VENUES}/{venue_id}/pitches", json={"label": label, "geometry": geometry}, headers=world.office
    )


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows of every places table and the change counter: a refusal must leave them all as they were."""
    result = {}
    for name, table in (
        ("venues", Venue),
        ("venue_revisions", VenueRevision),
        ("pitches", Pitch),
        ("pitch_revisions", PitchRevision),
        ("features", RestrictedFeature),
    ):
        result[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    result["counter"] = int(await session.scalar(select(VenueChangeCounter.counter)) or 0)
    return result


def days_ago(days: int, today: dt.date) -> str:
    return (today - dt.timedelta(days=days)).isoformat()
