"""Restricted features over HTTP against PostgreSQL: recording and moving them lists the pitches they affect."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy.ext.asyncio import AsyncSession

from core import coords
from tests.problems import assert_problem
from tests.venues.builders import box, point, wgs
from tests.venues.places_world import FEATURES, World, counts, establish, mark, world
from venues import geo
from venues.models import RestrictedFeature

__all__ = ["world"]

Client = httpx.AsyncClient


async def _pitches(client: Client, world: World) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A venue with pitch A-01 at its centre and A-02 15 m east of it."""
    venue = await establish(client, world)
    near = (await mark(client, world, venue["id"], "A-01", box(-0.5, -0.5, 0.5, 0.5))).json()
    east = (await mark(client, world, venue["id"], "A-02", box(15, -0.5, 16, 0.5))).json()
    return venue, near, east


async def test_a_new_hydrant_lists_the_pitches_it_now_affects(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue, near, _east = await _pitches(client, world)
    body = {"kind": "fire_hydrant", "geometry": point(-25.5, 0), "name": "东华门大街12号门前消火栓"}
    response = await client.post(FEATURES, json=body, headers=world.office)
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert response.headers["location"] == f"/api/v1/restricted-features/{recorded['id']}"
    assert response.headers["etag"] == '"1"'
    assert (recorded["jurisdiction_code"], recorded["buffer_m"], recorded["version"]) == (world.here.code, None, 1)
    # A-01 is 25 m away (within 30 m); A-02 is 40.5 m away.
    (affected,) = recorded["affected_pitches"]
    assert (affected["pitch_id"], affected["venue_id"], affected["label"]) == (near["id"], venue["id"], "A-01")
    assert affected["distance_m"] == pytest.approx(25.0, abs=0.01)
    assert affected["required_m"] == 30.0
    got = await client.get(f"{FEATURES}/{recorded['id']}")
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert "affected_pitches" not in got.json()


async def test_a_buffer_of_its_own_and_a_forbidden_overlap(client: Client, world: World) -> None:
    _, _near, east = await _pitches(client, world)
    wide = {"kind": "fire_hydrant", "geometry": point(-25.5, 0), "buffer_m": 45.0}
    labels = [
        a["label"] for a in (await client.post(FEATURES, json=wide, headers=world.office)).json()["affected_pitches"]
    ]
    assert labels == ["A-01", "A-02"]
    lane = {"kind": "fire_lane", "geometry": box(14.5, -5, 15.5, 5)}
    (hit,) = (await client.post(FEATURES, json=lane, headers=world.office)).json()["affected_pitches"]
    assert (hit["pitch_id"], hit["overlap_forbidden"], hit["distance_m"]) == (east["id"], True, 0.0)


async def test_moving_a_feature_lists_the_pitches_it_affects_where_it_now_stands(
    client: Client, world: World, session: AsyncSession
) -> None:
    _, _near, _east = await _pitches(client, world)
    feature = (
        await client.post(FEATURES, json={"kind": "bus_stop", "geometry": point(0, -200)}, headers=world.office)
    ).json()
    assert feature["affected_pitches"] == []
    path = f"{FEATURES}/{feature['id']}"
    before = await counts(session)
    for headers in (world.as_(world.other_staff), {**world.as_(world.other_staff), "If-Match": '"1"'}):
        assert_problem(
            await client.patch(path, json={"buffer_m": 5}, headers=headers), 404, "restricted_feature_not_found"
        )
    assert_problem(await client.patch(path, json={"buffer_m": 5}, headers=world.as_(world.vendor)), 403, "forbidden")
    assert_problem(await client.patch(path, json={"buffer_m": 5}, headers=world.office), 428, "precondition_required")
    assert_problem(
        await client.patch(path, json={"buffer_m": 5}, headers={**world.office, "If-Match": '"9"'}),
        412,
        "precondition_failed",
    )
    assert await counts(session) == before
    moved = await client.patch(path, json={"geometry": point(30, 0)}, headers={**world.office, "If-Match": '"1"'})
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == '"2"'
    assert [a["label"] for a in moved.json()["affected_pitches"]] == ["A-01", "A-02"]
    narrowed = await client.patch(path, json={"buffer_m": 20.0}, headers={**world.office, "If-Match": '"2"'})
    assert [a["label"] for a in narrowed.json()["affected_pitches"]] == ["A-02"]
    reset = await client.patch(path, json={"buffer_m": None}, headers={**world.office, "If-Match": '"3"'})
    assert reset.json()["buffer_m"] is None
    assert len(reset.json()["affected_pitches"]) == 2


async def test_an_amendment_that_changes_nothing_answers_the_feature_as_it_stands(
    client: Client, world: World, session: AsyncSession
) -> None:
    feature = (
        await client.post(FEATURES, json={"kind": "bus_stop", "geometry": point(0, -200)}, headers=world.office)
    ).json()
    path = f"{FEATURES}/{feature['id']}"
    headers = {**world.office, "If-Match": '"1"'}
    for body in ({}, {"kind": "bus_stop", "geometry": feature["geometry"]}):
        response = await client.patch(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"1"', body
        assert (response.json()["version"], response.json()["updated_at"]) == (1, feature["updated_at"])
    stored = await session.get(RestrictedFeature, uuid.UUID(feature["id"]))
    assert stored is not None
    assert stored.version == 1


@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"buffer_m": -1}, 422, "validation_failed", "buffer_m"),
        ({"buffer_m": 40_000_000}, 422, "validation_failed", "buffer_m"),
        ({"kind": "lamp_post"}, 422, "validation_failed", "kind"),
        (
            {"geometry": {"type": "LineString", "coordinates": [[116.41, 39.93], [116.411, 39.93]]}},
            422,
            "validation_failed",
            "geometry.type",
        ),
        (
            {"geometry": {"type": "Point", "coordinates": [39.93, 116.41]}},
            422,
            "validation_failed",
            "geometry.coordinates",
        ),
        ({"geometry": point(2000, 0)}, 422, "outside_jurisdiction", "geometry"),
        ({"jurisdiction_code": "110101999999"}, 404, "jurisdiction_not_found", None),
    ],
)
async def test_bad_features_are_refused_naming_the_field(
    client: Client,
    world: World,
    session: AsyncSession,
    overrides: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = await counts(session)
    body = {"kind": "fire_hydrant", "geometry": point(0, 0), **overrides}
    response = await client.post(FEATURES, json=body, headers=world.office)
    assert_problem(response, status, code, fields=[field] if field else None)
    assert await counts(session) == before


async def test_who_records_features_where(client: Client, world: World, session: AsyncSession) -> None:
    before = await counts(session)
    body = {"kind": "school_gate", "geometry": point(0, 0)}
    assert_problem(
        await client.post(FEATURES, json={**body, "jurisdiction_code": world.there.code}, headers=world.office),
        404,
        "jurisdiction_not_found",
    )
    assert_problem(
        await client.post(FEATURES, json=body, headers=world.as_(world.admin)),
        422,
        "validation_failed",
        fields=["jurisdiction_code"],
    )
    for account in (world.vendor, world.department):
        assert_problem(await client.post(FEATURES, json=body, headers=world.as_(account)), 403, "forbidden")
    assert await counts(session) == before
    admin = await client.post(
        FEATURES, json={**body, "jurisdiction_code": world.here.code}, headers=world.as_(world.admin)
    )
    assert admin.status_code == 201, admin.text
    # A fire lane may run on across the boundary: touching the jurisdiction is enough.
    lane = {"kind": "fire_lane", "geometry": box(800, 0, 900, 4)}
    assert (await client.post(FEATURES, json=lane, headers=world.office)).status_code == 201


async def test_a_gcj02_point_lands_on_its_wgs84_spot(client: Client, world: World, session: AsyncSession) -> None:
    spot = wgs(shapely.Point(12.0, -7.0))
    sent = coords.wgs84_to_gcj02(spot.x, spot.y)
    body = {
        "kind": "fire_hydrant",
        "geometry": {"type": "Point", "coordinates": list(sent)},
        "coordinate_system": "gcj02",
    }
    response = await client.post(FEATURES, json=body, headers=world.office)
    assert response.status_code == 201, response.text
    stored = await session.get(RestrictedFeature, uuid.UUID(response.json()["id"]))
    assert stored is not None
    landed = shapely.Point(*stored.geometry["coordinates"])
    assert geo.distance_m(landed, spot) < 0.01
    assert response.json()["geometry"]["coordinates"] == stored.geometry["coordinates"]


async def test_features_are_listed_by_jurisdiction_kind_and_bbox(client: Client, world: World) -> None:
    made = []
    for kind, where in (
        ("fire_hydrant", point(0, 0)),
        ("school_gate", point(300, 300)),
        ("fire_hydrant", point(-300, 300)),
    ):
        made.append((await client.post(FEATURES, json={"kind": kind, "geometry": where}, headers=world.office)).json())

    async def ids(**params: Any) -> list[str]:
        response = await client.get(FEATURES, params=params)
        assert response.status_code == 200, response.text
        # Made at the same instant of the tests' fixed clock: ties are ordered by id, so compare as sets.
        return sorted(item["id"] for item in response.json()["items"])

    assert await ids(jurisdiction_code=world.here.code) == sorted(f["id"] for f in made)
    assert await ids(jurisdiction_code=world.here.code, kind="fire_hydrant") == sorted([made[0]["id"], made[2]["id"]])
    lon, lat = made[1]["geometry"]["coordinates"]
    assert await ids(bbox=f"{lon - 0.0001:.6f},{lat - 0.0001:.6f},{lon + 0.0001:.6f},{lat + 0.0001:.6f}") == [
        made[1]["id"]
    ]
    page = (await client.get(FEATURES, params={"jurisdiction_code": world.here.code, "limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert_problem(await client.get(f"{FEATURES}/{uuid.uuid4()}"), 404, "restricted_feature_not_found")
