"""GET /venues/{id}/map: a GeoJSON FeatureCollection of the venue, its pitches today and features near it."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from tests.clock import TODAY
from tests.problems import assert_problem
from tests.registry.builders import make_vendor
from tests.venues.builders import box, make_feature, point
from tests.venues.places_world import VENUES, World, establish, mark, world
from venues import geo
from venues.models import Allocation, AllocationRound, Pitch, RoundApplication

__all__ = ["world"]

Client = httpx.AsyncClient


async def _allocate(session: AsyncSession, settings: Settings, world: World, pitch_id: str, start: dt.date) -> None:
    """A held allocation of the pitch for 30 days from `start` (rows only: the round's draw is not the map's)."""
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=world.here.code)
    round_ = AllocationRound(
        jurisdiction_code=world.here.code,
        name="2026年第三季度便民摊位",
        term_start=start,
        term_end=start + dt.timedelta(days=30),
        applications_close_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        priority_tiers=[],
        seed=bytes(32),
        seed_commitment="0" * 64,
        created_by=world.staff.id,
    )
    session.add(round_)
    await session.flush()
    application = RoundApplication(
        round_id=round_.id,
        vendor_id=vendor.id,
        applicant_ref=uuid.uuid4().hex,
        choices=[uuid.UUID(pitch_id)],
        submitted_at=dt.datetime(2026, 4, 20, tzinfo=dt.UTC),
    )
    session.add(application)
    await session.flush()
    pitch_no = await session.scalar(select(Pitch.pitch_no).where(Pitch.id == uuid.UUID(pitch_id)))
    assert pitch_no is not None
    session.add(
        Allocation(
            round_id=round_.id,
            application_id=application.id,
            pitch_id=uuid.UUID(pitch_id),
            pitch_no=pitch_no,
            vendor_id=vendor.id,
            holder_no=pitch_no + 1_000_000,
            term_start=round_.term_start,
            term_end=round_.term_end,
            choice_rank=1,
            source="draw",
            status="held",
        )
    )
    await session.commit()


async def test_the_map_shows_the_venue_pitches_today_features_and_buffers(
    client: Client, world: World, session: AsyncSession, settings: Settings
) -> None:
    venue = await establish(client, world)
    held = (await mark(client, world, venue["id"], "A-01", box(-0.5, -0.5, 0.5, 0.5))).json()
    later = (await mark(client, world, venue["id"], "A-02", box(5, 0, 6, 1))).json()
    free = (await mark(client, world, venue["id"], "A-03", box(10, 0, 11, 1))).json()
    shut = (await mark(client, world, venue["id"], "A-04", box(15, 0, 16, 1))).json()
    closing = await client.post(
        f"/api/v1/pitches/{shut['id']}/status",
        json={"status": "closed", "reason": "摊位撤除"},
        headers={**world.office, "If-Match": '"1"'},
    )
    assert closing.status_code == 200
    await _allocate(session, settings, world, held["id"], TODAY - dt.timedelta(days=3))
    await _allocate(session, settings, world, later["id"], TODAY + dt.timedelta(days=10))
    hydrant = await make_feature(
        session, jurisdiction_code=world.here.code, created_by=world.staff, geometry=point(40, 0)
    )
    lane = await make_feature(
        session,
        jurisdiction_code=world.here.code,
        created_by=world.staff,
        kind="fire_lane",
        geometry=box(-22, -30, -19, 30),
    )
    # Out of reach of any pitch of the venue: a hydrant 40 m off its edge, and one far away.
    await make_feature(session, jurisdiction_code=world.here.code, created_by=world.staff, geometry=point(60, 0))
    await make_feature(session, jurisdiction_code=world.here.code, created_by=world.staff, geometry=point(0, 1500))
    await session.commit()

    response = await client.get(f"{VENUES}/{venue['id']}/map")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert all(feature["type"] == "Feature" for feature in features)
    by_layer: dict[str, list[dict[str, object]]] = {}
    for feature in features:
        by_layer.setdefault(feature["properties"]["layer"], []).append(feature)
    (venue_feature,) = by_layer["venue"]
    assert venue_feature["id"] == f"venue/{venue['id']}"
    assert venue_feature["properties"]["kind"] == "community_space"
    assert venue_feature["properties"]["status"] == "open"
    statuses = {f["properties"]["label"]: f["properties"]["status"] for f in by_layer["pitch"]}  # type: ignore[index]
    assert statuses == {"A-01": "allocated", "A-02": "open", "A-03": "open", "A-04": "closed"}
    assert free["id"] in {f["id"].split("/")[1] for f in by_layer["pitch"]}  # type: ignore[attr-defined]
    restricted = {f["id"]: f["properties"] for f in by_layer["restricted_feature"]}
    assert set(restricted) == {f"restricted-feature/{hydrant.id}", f"restricted-feature/{lane.id}"}
    assert restricted[f"restricted-feature/{hydrant.id}"]["buffer_m"] == 30.0  # type: ignore[index]
    assert restricted[f"restricted-feature/{lane.id}"]["overlap_forbidden"] is True  # type: ignore[index]
    (buffer,) = by_layer["buffer"]  # the fire lane has no distance buffer, only its own area
    assert buffer["properties"]["feature_id"] == str(hydrant.id)  # type: ignore[index]
    area = shape(buffer["geometry"])
    assert geo.area_m2(area) == pytest.approx(3.14159 * 900, rel=0.02)
    assert area.contains(shapely.Point(*geo.to_shape(point(40, 0)).coords[0]))


async def test_the_map_of_an_unknown_venue_is_not_found(client: Client, world: World) -> None:
    assert_problem(await client.get(f"{VENUES}/{uuid.uuid4()}/map"), 404, "venue_not_found")
