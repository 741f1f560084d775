"""Pitches over HTTP against PostgreSQL: drawn only if every siting check passes, edits checked again."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from tests.clock import START
from tests.problems import assert_problem
from tests.registry.builders import make_vendor
from tests.venues.builders import box, make_feature, point
from tests.venues.places_world import VENUES, World, counts, establish, mark, world
from venues import geo
from venues.models import Pitch, PitchRevision, RoadOccupancy

__all__ = ["world"]

Client = httpx.AsyncClient
PITCHES = "/api/v1/pitches"


def _failed(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    failed: dict[str, list[dict[str, Any]]] = {}
    for check in body["checks"]:
        if not check["passed"]:
            failed.setdefault(check["check"], []).append(check)
    return failed


async def test_a_pitch_passing_every_check_is_drawn_with_its_checks(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    response = await mark(client, world, venue["id"], "A-01", box(-0.5, -0.75, 0.5, 0.75))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/pitches/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert [check["check"] for check in body["checks"]] == [
        "inside_venue",
        "no_overlap",
        "clear_of_restricted",
        "area_cap",
    ]
    assert all(check["passed"] for check in body["checks"])
    assert (body["rules_version"], body["venue_revision"], body["status"]) == ("2026.1", 1, "open")
    assert body["area_m2"] == pytest.approx(1.5, abs=0.001)
    revision = await session.scalar(select(PitchRevision).where(PitchRevision.pitch_id == body["id"]))
    assert revision is not None
    assert (revision.revision, revision.venue_revision, revision.change) == (1, 1, "marked")
    got = await client.get(f"{PITCHES}/{body['id']}")
    assert got.json() == body
    assert got.headers["etag"] == '"1"'


async def test_an_overlapping_pitch_is_rejected_with_every_check(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    assert (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).status_code == 201
    before = await counts(session)
    response = await mark(client, world, venue["id"], "A-02", box(0.5, 0.5, 1.5, 1.5))
    body = assert_problem(response, 422, "pitch_rejected")
    assert len(body["checks"]) == 4
    (overlap,) = _failed(body)["no_overlap"]
    assert overlap["refs"] == ["pitch A-01"]
    assert "0.25 m²" in overlap["detail"]
    assert await counts(session) == before
    # Sharing an edge is not overlapping.
    assert (await mark(client, world, venue["id"], "A-02", box(1, 0, 2, 1))).status_code == 201


async def test_a_pitch_larger_than_its_venue_is_rejected(client: Client, world: World, session: AsyncSession) -> None:
    venue = await establish(client, world, geometry=box(0, 0, 1, 1))
    before = await counts(session)
    body = assert_problem(
        await mark(client, world, venue["id"], "A-01", box(-0.5, -0.5, 1.5, 1.5)), 422, "pitch_rejected"
    )
    failed = _failed(body)
    assert failed["inside_venue"][0]["measured"] == pytest.approx(3.0, abs=0.01)
    assert failed["area_cap"][0]["measured"] == pytest.approx(4.0, abs=0.01)
    assert await counts(session) == before


async def test_a_pitch_within_a_hydrants_buffer_is_rejected_with_the_numbers(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    hydrant = await make_feature(
        session, jurisdiction_code=world.here.code, created_by=world.staff, geometry=point(40, 0)
    )
    # A far hydrant (2 km off) is not even looked at.
    await make_feature(session, jurisdiction_code=world.here.code, created_by=world.staff, geometry=point(0, 2000))
    await session.commit()
    before = await counts(session)
    body = assert_problem(await mark(client, world, venue["id"], "A-01", box(19, 0, 20, 1)), 422, "pitch_rejected")
    (clear,) = _failed(body)["clear_of_restricted"]
    assert clear["feature"] == str(hydrant.id)
    assert clear["kind"] == "fire_hydrant"
    assert clear["distance_m"] == pytest.approx(20.0, abs=0.01)
    assert clear["required_m"] == 30.0
    assert len([c for c in body["checks"] if c["check"] == "clear_of_restricted"]) == 1
    assert await counts(session) == before
    # 30 m exactly is within the buffer ("within N m" includes N); a little more passes.
    assert_problem(await mark(client, world, venue["id"], "A-01", box(9, 0, 10, 1)), 422, "pitch_rejected")
    assert (await mark(client, world, venue["id"], "A-01", box(8.9, 0, 9.9, 1))).status_code == 201


async def test_a_feature_over_the_boundary_still_counts(client: Client, world: World, session: AsyncSession) -> None:
    """Siting measures every feature near the place, whatever jurisdiction recorded it."""
    venue = await establish(client, world, geometry=box(800, 0, 840, 40))
    await make_feature(
        session, jurisdiction_code=world.there.code, created_by=world.other_staff, geometry=point(870, 10)
    )
    await session.commit()
    body = assert_problem(await mark(client, world, venue["id"], "A-01", box(839, 10, 840, 11)), 422, "pitch_rejected")
    assert "clear_of_restricted" in _failed(body)


async def test_road_zone_pitches_keep_clear_of_occupancies_and_the_walkway(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(
        client,
        world,
        kind="road_zone",
        geometry=box(0, 0, 40, 4),
        sidewalk_width_m=4.0,
        allowed_categories=["daily_necessities"],
    )
    vendor = await make_vendor(session, world.settings, residence_jurisdiction_code=world.here.code)
    footprint = box(10, 0, 11, 1)
    shape = geo.to_shape(footprint)
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    session.add(
        RoadOccupancy(
            zone_id=uuid.UUID(venue["id"]),
            venue_revision=1,
            vendor_id=vendor.id,
            activity_code="shoe_repair",
            footprint=footprint,
            min_lon=min_lon,
            min_lat=min_lat,
            max_lon=max_lon,
            max_lat=max_lat,
            area_m2=1.0,
            span=Range(START, START + dt.timedelta(hours=4)),
            checks=[],
            rules_version="2026.1",
            status="approved",
            fee_exemption_basis="国办发〔2020〕27号",
        )
    )
    await session.commit()
    body = assert_problem(await mark(client, world, venue["id"], "B-01", box(10.5, 0, 11.5, 1)), 422, "pitch_rejected")
    (overlap,) = _failed(body)["no_overlap"]
    assert overlap["refs"][0].startswith("occupancy ")
    # 2.5 m deep on a 4 m sidewalk leaves 1.5 m: less than the 1.8 m walkway.
    body = assert_problem(await mark(client, world, venue["id"], "B-01", box(20, 0, 20.8, 2.5)), 422, "pitch_rejected")
    assert _failed(body)["walkway_clear"][0]["limit"] == 1.8
    response = await mark(client, world, venue["id"], "B-01", box(20, 0, 21, 1))
    assert response.status_code == 201, response.text
    assert [c["check"] for c in response.json()["checks"]][-1] == "walkway_clear"


async def test_pitches_are_drawn_only_by_the_venues_office(client: Client, world: World, session: AsyncSession) -> None:
    venue = await establish(client, world)
    before = await counts(session)
    path = f"{VENUES}/{venue['id']}/pitches"
    body = {"label": "A-01", "geometry": box(0, 0, 1, 1)}
    assert_problem(await client.post(path, json=body, headers=world.as_(world.other_staff)), 404, "venue_not_found")
    for account in (world.vendor, world.department):
        assert_problem(await client.post(path, json=body, headers=world.as_(account)), 403, "forbidden")
    missing = f"{VENUES}/{uuid.uuid4()}/pitches"
    assert_problem(await client.post(missing, json=body, headers=world.office), 404, "venue_not_found")
    assert await counts(session) == before
    assert (await client.post(path, json=body, headers=world.as_(world.admin))).status_code == 201


async def test_a_label_is_unique_in_its_venue_and_a_point_is_not_a_pitch(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    assert (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).status_code == 201
    before = await counts(session)
    assert_problem(await mark(client, world, venue["id"], "A-01", box(5, 5, 6, 6)), 409, "pitch_label_taken")
    assert_problem(
        await mark(client, world, venue["id"], "A-02", point(5, 5)), 422, "validation_failed", fields=["geometry.type"]
    )
    assert await counts(session) == before


async def test_a_venues_pitches_are_listed_a_page_at_a_time(client: Client, world: World) -> None:
    venue = await establish(client, world)
    labels = ["A-01", "A-02", "A-03"]
    for index, label in enumerate(labels):
        assert (await mark(client, world, venue["id"], label, box(2 * index, 0, 2 * index + 1, 1))).status_code == 201
    first = (await client.get(f"{VENUES}/{venue['id']}/pitches", params={"limit": 2})).json()
    assert [item["label"] for item in first["items"]] == labels[:2]
    rest = await client.get(f"{VENUES}/{venue['id']}/pitches", params={"cursor": first["next_cursor"]})
    assert [item["label"] for item in rest.json()["items"]] == labels[2:]
    assert_problem(await client.get(f"{VENUES}/{uuid.uuid4()}/pitches"), 404, "venue_not_found")
    assert_problem(await client.get(f"{PITCHES}/{uuid.uuid4()}"), 404, "pitch_not_found")


async def test_a_redrawn_pitch_is_checked_again_and_makes_a_revision(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    first = (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).json()
    await mark(client, world, venue["id"], "A-02", box(3, 0, 4, 1))
    path = f"{PITCHES}/{first['id']}"
    before = await counts(session)
    for headers in (world.as_(world.other_staff), {**world.as_(world.other_staff), "If-Match": '"1"'}):
        assert_problem(await client.patch(path, json={"label": "X"}, headers=headers), 404, "pitch_not_found")
        assert_problem(
            await client.post(f"{path}/status", json={"status": "closed", "reason": "x"}, headers=headers),
            404,
            "pitch_not_found",
        )
    assert_problem(await client.patch(path, json={"label": "X"}, headers=world.as_(world.vendor)), 403, "forbidden")
    assert_problem(await client.patch(path, json={"label": "X"}, headers=world.office), 428, "precondition_required")
    headers = {**world.office, "If-Match": '"1"'}
    assert_problem(
        await client.patch(path, json={"geometry": box(2.5, 0, 3.5, 1)}, headers=headers), 422, "pitch_rejected"
    )
    assert_problem(await client.patch(path, json={"label": "A-02"}, headers=headers), 409, "pitch_label_taken")
    assert await counts(session) == before
    # Moving it over itself is no overlap: the pitch is not its own neighbour.
    moved = await client.patch(path, json={"geometry": box(0.5, 0, 1.5, 1), "reason": "让出消防通道"}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["version"], moved.headers["etag"]) == (2, '"2"')
    revision = await session.scalar(
        select(PitchRevision).where(PitchRevision.pitch_id == first["id"], PitchRevision.revision == 2)
    )
    assert revision is not None
    assert (revision.change, revision.reason) == ("amended", "让出消防通道")


async def test_an_amendment_that_changes_nothing_answers_the_pitch_as_it_stands(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    pitch = (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).json()
    before = await counts(session)
    headers = {**world.office, "If-Match": '"1"'}
    for body in ({}, {"reason": "核对"}, {"label": "A-01", "geometry": pitch["geometry"]}):
        response = await client.patch(f"{PITCHES}/{pitch['id']}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"1"', body
        assert response.json()["version"] == 1
        assert response.json()["updated_at"] == pitch["updated_at"]
    assert await counts(session) == before, "no revision"


async def test_a_closed_pitch_frees_its_ground_and_is_checked_again_to_reopen(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    pitch = (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).json()
    path = f"{PITCHES}/{pitch['id']}/status"
    assert_problem(
        await client.post(path, json={"status": "suspended"}, headers={**world.office, "If-Match": '"1"'}),
        422,
        "validation_failed",
        fields=["reason"],
    )
    closed = await client.post(
        path, json={"status": "closed", "reason": "摊位撤除"}, headers={**world.office, "If-Match": '"1"'}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert (await mark(client, world, venue["id"], "A-02", box(0.5, 0, 1.5, 1))).status_code == 201
    body = assert_problem(
        await client.post(path, json={"status": "open"}, headers={**world.office, "If-Match": '"2"'}),
        422,
        "pitch_rejected",
    )
    assert _failed(body)["no_overlap"][0]["refs"] == ["pitch A-02"]
    stored = await session.get(Pitch, uuid.UUID(pitch["id"]))
    assert stored is not None
    assert stored.status == "closed"


async def test_a_suspended_pitch_still_holds_its_ground(client: Client, world: World, clock: FixedClock) -> None:
    venue = await establish(client, world)
    pitch = (await mark(client, world, venue["id"], "A-01", box(0, 0, 1, 1))).json()
    until = (clock.now() + dt.timedelta(days=400)).isoformat()
    response = await client.post(
        f"{PITCHES}/{pitch['id']}/status",
        json={"status": "suspended", "reason": "井盖维修", "until": until},
        headers={**world.office, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["current_status"] == "suspended"
    assert_problem(await mark(client, world, venue["id"], "A-02", box(0.5, 0, 1.5, 1)), 422, "pitch_rejected")
