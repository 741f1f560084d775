"""Venues over HTTP against PostgreSQL: establishing, reading, listing, amending and closing, every refusal."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import coords
from core.clock import FixedClock
from tests.clock import START, TODAY
from tests.problems import assert_problem
from tests.venues.builders import DONGCHENG_CENTRE, box, geojson, wgs
from tests.venues.places_world import VENUES, World, counts, days_ago, establish, mark, venue_body, world
from venues import geo
from venues.models import Venue, VenueRevision

__all__ = ["world"]

Client = httpx.AsyncClient
DESIGNATION = {
    "authority": "北京市东城区人民政府",
    "document_number": "京东政发〔2026〕12号",
    "designated_on": "2026-02-10",
}
JOINT = {
    "road_authority_document": "东城城管审〔2026〕31号",
    "traffic_police_document": "京公交东审〔2026〕17号",
    "valid_to": "2026-12-31",
}


# --- establishing -----------------------------------------------------------------------------------------------


async def test_a_street_office_establishes_a_venue_in_its_jurisdiction(
    client: Client, world: World, session: AsyncSession
) -> None:
    before = await counts(session)
    response = await client.post(VENUES, json=venue_body(world), headers=world.office)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/venues/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["area_m2"] == pytest.approx(1600, abs=0.01)
    assert (body["kind"], body["status"], body["current_status"], body["version"]) == (
        "community_space",
        "open",
        "open",
        1,
    )
    assert body["designation_status"] is None
    assert body["road_requests"] is None
    after = await counts(session)
    assert after["venues"] == before["venues"] + 1
    assert after["venue_revisions"] == before["venue_revisions"] + 1
    assert after["counter"] == before["counter"] + 1
    revision = await session.scalar(select(VenueRevision).where(VenueRevision.venue_id == body["id"]))
    assert revision is not None
    assert (revision.revision, revision.change, revision.snapshot["name"]) == (1, "established", body["name"])
    got = await client.get(f"{VENUES}/{body['id']}")
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json() == body


async def test_admins_establish_anywhere(client: Client, world: World) -> None:
    body = venue_body(world, jurisdiction_code=world.there.code, geometry=box(1750, 0, 1790, 40))
    response = await client.post(VENUES, json=body, headers=world.as_(world.admin))
    assert response.status_code == 201, response.text


async def test_another_jurisdiction_is_not_found_and_wrong_roles_are_forbidden(
    client: Client, world: World, session: AsyncSession
) -> None:
    before = await counts(session)
    elsewhere = venue_body(world, jurisdiction_code=world.there.code, geometry=box(1750, 0, 1790, 40))
    assert_problem(await client.post(VENUES, json=elsewhere, headers=world.office), 404, "jurisdiction_not_found")
    unknown = venue_body(world, jurisdiction_code="110101999999")
    assert_problem(
        await client.post(VENUES, json=unknown, headers=world.as_(world.admin)), 404, "jurisdiction_not_found"
    )
    for account in (world.vendor, world.department):
        assert_problem(await client.post(VENUES, json=venue_body(world), headers=world.as_(account)), 403, "forbidden")
    assert_problem(await client.post(VENUES, json=venue_body(world)), 401, "not_authenticated")
    assert await counts(session) == before


def _ring(coordinates: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [coordinates]}


def _square_ring() -> list[list[float]]:
    ring: list[list[float]] = geojson(shapely.box(-20, -20, 20, 20))["coordinates"][0]
    return ring


def _bowtie() -> dict[str, Any]:
    a, b, c, d = (wgs(shapely.Point(x, y)).coords[0] for x, y in ((-20, -20), (20, 20), (20, -20), (-20, 20)))
    return _ring([list(a), list(b), list(c), list(d), list(a)])


def _hole_outside() -> dict[str, Any]:
    shell = geojson(shapely.box(-20, -20, 20, 20))["coordinates"][0]
    hole = geojson(shapely.box(30, 30, 35, 35))["coordinates"][0]
    return {"type": "Polygon", "coordinates": [shell, hole]}


def _circle(vertices: int) -> list[list[float]]:
    lon, lat = DONGCHENG_CENTRE
    ring = [
        [lon + 0.001 * math.cos(2 * math.pi * i / vertices), lat + 0.001 * math.sin(2 * math.pi * i / vertices)]
        for i in range(vertices)
    ]
    return [*ring, ring[0]]


BAD_GEOMETRY: list[tuple[str, Any, int, str, str]] = [
    ("bowtie", _bowtie(), 422, "validation_failed", "geometry"),
    (
        "unclosed ring",
        _ring([*_square_ring()[:-1], _square_ring()[1]]),
        422,
        "validation_failed",
        "geometry.coordinates",
    ),
    (
        "too few positions",
        _ring([*_square_ring()[:2], _square_ring()[0]]),
        422,
        "validation_failed",
        "geometry.coordinates[0]",
    ),
    (
        "point for a polygon",
        {"type": "Point", "coordinates": list(DONGCHENG_CENTRE)},
        422,
        "validation_failed",
        "geometry.type",
    ),
    (
        "swapped lat/lon",
        _ring([[lat, lon] for lon, lat in _square_ring()]),
        422,
        "validation_failed",
        "geometry.coordinates",
    ),
    ("hole outside its shell", _hole_outside(), 422, "validation_failed", "geometry"),
    ("5,001 vertices", _ring(_circle(5001)), 422, "validation_failed", "geometry.coordinates[0]"),
    ("larger than 1 km²", box(-800, -800, 800, 800), 422, "validation_failed", "geometry"),
]


@pytest.mark.parametrize(
    ("geometry", "status", "code", "field"),
    [case[1:] for case in BAD_GEOMETRY],
    ids=[case[0] for case in BAD_GEOMETRY],
)
async def test_bad_geometry_is_refused_naming_the_field_and_nothing_is_written(
    client: Client, world: World, session: AsyncSession, geometry: Any, status: int, code: str, field: str
) -> None:
    before = await counts(session)
    response = await client.post(VENUES, json=venue_body(world, geometry=geometry), headers=world.office)
    assert_problem(response, status, code, fields=[field])
    assert await counts(session) == before


async def test_a_bowtie_is_refused_with_shapelys_reason(client: Client, world: World) -> None:
    response = await client.post(VENUES, json=venue_body(world, geometry=_bowtie()), headers=world.office)
    body = assert_problem(response, 422, "validation_failed", fields=["geometry"])
    assert "Self-intersection" in body["errors"][0]["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_nan_and_infinity_are_refused(client: Client, world: World, session: AsyncSession, literal: str) -> None:
    before = await counts(session)
    ring = _square_ring()
    text = json.dumps(venue_body(world, geometry=_ring(ring)))
    text = text.replace(json.dumps(ring[1][0]), literal, 1)
    response = await client.post(VENUES, content=text, headers={**world.office, "Content-Type": "application/json"})
    # NaN and Infinity are not JSON; 1e999 is, but no double holds it (it would be infinity): both unreadable.
    assert_problem(response, 400, "malformed_json")
    assert await counts(session) == before


async def test_two_hundred_thousand_vertices_are_refused_by_size_not_a_crash(
    client: Client, world: World, session: AsyncSession
) -> None:
    before = await counts(session)
    response = await client.post(VENUES, json=venue_body(world, geometry=_ring(_circle(200_000))), headers=world.office)
    assert_problem(response, 413, "body_too_large")
    assert await counts(session) == before


async def test_a_venue_outside_its_jurisdiction_is_refused(client: Client, world: World, session: AsyncSession) -> None:
    before = await counts(session)
    # 1.2 km east of the centre: over the boundary at 116.42°E (≈ 850 m east).
    response = await client.post(VENUES, json=venue_body(world, geometry=box(800, 0, 900, 50)), headers=world.office)
    body = assert_problem(response, 422, "outside_jurisdiction", fields=["geometry"])
    assert "m² of it lies outside" in body["errors"][0]["message"]
    assert await counts(session) == before


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"kind": "night_market"}, "kind", "community_space, designated_zone, road_zone"),
        ({"allowed_categories": ["street_food"]}, "allowed_categories[0]", "prepared_food"),
        ({"allowed_categories": []}, "allowed_categories", "at least 1"),
        ({"schedule": [{"days": [8], "start": "06:00", "end": "22:00"}]}, "schedule[0].days[0]", "at most 7"),
        ({"schedule": [{"days": [1], "start": "25:00", "end": "22:00"}]}, "schedule[0].start", "HH:MM"),
        ({"schedule": [{"days": [1], "start": "06:00", "end": "24:30"}]}, "schedule[0].end", "HH:MM"),
        ({"valid_from": "2026-06-01", "valid_to": "2026-05-31"}, "valid_to", "before valid_from"),
        ({"designation": DESIGNATION}, "designation", "designated_zone"),
        ({"joint_approval": JOINT}, "joint_approval", "road_zone"),
        ({"carriageway": True}, "carriageway", "road_zone"),
        ({"capacity": 0}, "capacity", "at least 1"),
        ({"name": "   "}, "name", "blank"),
    ],
)
async def test_rules_of_a_venue_are_refused_naming_the_field(
    client: Client, world: World, session: AsyncSession, overrides: dict[str, Any], field: str, says: str
) -> None:
    before = await counts(session)
    response = await client.post(VENUES, json=venue_body(world, **overrides), headers=world.office)
    body = assert_problem(response, 422, "validation_failed", fields=[field])
    assert says in body["errors"][0]["message"]
    assert await counts(session) == before


async def test_a_night_market_window_runs_past_midnight(client: Client, world: World) -> None:
    night = [{"days": [5, 6], "start": "18:00", "end": "02:00"}]
    venue = await establish(client, world, schedule=night)
    assert venue["schedule"] == night


async def test_a_designated_zone_is_proposed_until_a_county_level_government_designates_it(
    client: Client, world: World
) -> None:
    proposed = await establish(client, world, kind="designated_zone", name="东四早市")
    assert proposed["designation_status"] == "proposed"
    assert proposed["designation"] is None
    designated = await establish(
        client, world, kind="designated_zone", name="东华门早市", geometry=box(30, 30, 60, 60), designation=DESIGNATION
    )
    assert designated["designation_status"] == "designated"
    assert designated["designation"] == DESIGNATION


@pytest.mark.parametrize(
    ("designation", "field"),
    [
        ({**DESIGNATION, "authority": "东华门街道办事处"}, "designation.authority"),
        ({**DESIGNATION, "authority": "北京市东城区东华门街道办事处"}, "designation.authority"),
        ({**DESIGNATION, "authority": "长沟镇人民政府"}, "designation.authority"),
        ({**DESIGNATION, "authority": "北京市东城区城市管理委员会"}, "designation.authority"),
        ({**DESIGNATION, "designated_on": days_ago(-1, TODAY)}, "designation.designated_on"),
    ],
)
async def test_a_street_office_town_or_department_cannot_designate(
    client: Client, world: World, session: AsyncSession, designation: dict[str, str], field: str
) -> None:
    before = await counts(session)
    body = venue_body(world, kind="designated_zone", designation=designation)
    assert_problem(await client.post(VENUES, json=body, headers=world.office), 422, "validation_failed", fields=[field])
    assert await counts(session) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valid_from": "0001-01-01"}, "valid_from"),
        ({"valid_from": "1999-12-31"}, "valid_from"),
        ({"valid_to": "9999-12-31"}, "valid_to"),
        ({"closed_dates": ["2026-10-01", "0001-01-01"]}, "closed_dates[1]"),
        (
            {"kind": "designated_zone", "designation": {**DESIGNATION, "designated_on": "0001-01-01"}},
            "designation.designated_on",
        ),
        (
            {"kind": "road_zone", "geometry": box(0, 0, 40, 4), "joint_approval": {**JOINT, "valid_to": "0001-01-01"}},
            "joint_approval.valid_to",
        ),
        (
            {"kind": "road_zone", "geometry": box(0, 0, 40, 4), "joint_approval": {**JOINT, "valid_to": "2101-01-01"}},
            "joint_approval.valid_to",
        ),
    ],
)
async def test_dates_outside_2000_to_2100_are_refused_naming_the_field(
    client: Client, world: World, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    before = await counts(session)
    body = venue_body(world, **overrides)
    problem = assert_problem(await client.post(VENUES, json=body, headers=world.office), 422, "validation_failed")
    assert field in [error["field"] for error in problem["errors"]], problem
    assert await counts(session) == before


async def test_a_county_named_after_a_township_word_still_designates(client: Client, world: World) -> None:
    # 乡城县 is a county of Sichuan: the 乡 in its name does not make its government a township's.
    venue = await establish(
        client, world, kind="designated_zone", designation={**DESIGNATION, "authority": "乡城县人民政府"}
    )
    assert venue["designation_status"] == "designated"


async def test_road_zones_approve_at_once_only_on_a_sidewalk_with_a_live_joint_approval(
    client: Client, world: World
) -> None:
    road = {"kind": "road_zone", "sidewalk_width_m": 4.0}
    sidewalk = await establish(client, world, **road, joint_approval=JOINT, geometry=box(0, 0, 40, 4))
    assert sidewalk["road_requests"] == "approved_at_once"
    assert sidewalk["joint_approval"] == JOINT
    carriageway = await establish(
        client, world, **road, carriageway=True, joint_approval=JOINT, geometry=box(0, 10, 40, 14)
    )
    assert carriageway["road_requests"] == "permit_flow"
    none = await establish(client, world, **road, geometry=box(0, 20, 40, 24))
    assert none["road_requests"] == "permit_flow"
    lapsed = await establish(
        client, world, **road, joint_approval={**JOINT, "valid_to": days_ago(1, TODAY)}, geometry=box(0, 30, 40, 34)
    )
    assert lapsed["road_requests"] == "permit_flow"


async def test_min_clearance_below_the_rules_walkway_is_refused(client: Client, world: World) -> None:
    body = venue_body(world, kind="road_zone", min_clearance_m=1.0, geometry=box(0, 0, 40, 4))
    assert_problem(
        await client.post(VENUES, json=body, headers=world.office), 422, "validation_failed", fields=["min_clearance_m"]
    )


async def test_gcj02_geometry_lands_on_its_wgs84_place(client: Client, world: World, session: AsyncSession) -> None:
    """A shape drawn on an AMap/Tencent base map: its WGS84 corners are found again to about a centimetre."""
    wgs_ring = _square_ring()
    gcj_ring = [list(coords.wgs84_to_gcj02(lon, lat)) for lon, lat in wgs_ring]
    venue = await establish(client, world, geometry=_ring(gcj_ring), coordinate_system="gcj02")
    stored = await session.get(Venue, venue["id"])
    assert stored is not None
    for (lon, lat), (s_lon, s_lat) in zip(wgs_ring, stored.geometry["coordinates"][0], strict=True):
        assert geo.distance_m(shapely.Point(lon, lat), shapely.Point(s_lon, s_lat)) < 0.01
    # Taken as WGS84, the same numbers would lie hundreds of metres away.
    assert geo.distance_m(shapely.Point(*gcj_ring[0]), shapely.Point(*wgs_ring[0])) > 100


# --- listing ----------------------------------------------------------------------------------------------------


async def test_venues_are_listed_by_jurisdiction_kind_and_bbox_a_page_at_a_time(client: Client, world: World) -> None:
    community = await establish(client, world)
    zone = await establish(client, world, kind="designated_zone", geometry=box(100, 100, 140, 140))
    elsewhere = venue_body(world, jurisdiction_code=world.there.code, geometry=box(1750, 0, 1790, 40))
    assert (await client.post(VENUES, json=elsewhere, headers=world.as_(world.admin))).status_code == 201

    async def ids(**params: Any) -> list[str]:
        response = await client.get(VENUES, params=params)
        assert response.status_code == 200, response.text
        # Made at the same instant of the tests' fixed clock: ties are ordered by id, so compare as sets.
        return sorted(item["id"] for item in response.json()["items"])

    assert await ids(jurisdiction_code=world.here.code) == sorted([community["id"], zone["id"]])
    assert await ids(jurisdiction_code=world.here.code, kind="designated_zone") == [zone["id"]]
    lon, lat = DONGCHENG_CENTRE
    assert await ids(bbox=f"{lon - 0.0001:.6f},{lat - 0.0001:.6f},{lon + 0.0001:.6f},{lat + 0.0001:.6f}") == [
        community["id"]
    ]
    first = await client.get(VENUES, params={"jurisdiction_code": world.here.code, "limit": 1})
    page = first.json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    second = await client.get(VENUES, params={"jurisdiction_code": world.here.code, "cursor": page["next_cursor"]})
    seen = [item["id"] for item in page["items"] + second.json()["items"]]
    assert sorted(seen) == sorted([community["id"], zone["id"]])
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("bbox", "status", "code"),
    [
        ("116.40,39.92,116.42", 400, "invalid_parameter"),
        ("west,south,east,north", 400, "invalid_parameter"),
        ("116.40,39.92,116.42,39.94,1", 400, "invalid_parameter"),
        ("116.42,39.92,116.40,39.94", 422, "validation_failed"),
        ("116.40,39.94,116.42,39.92", 422, "validation_failed"),
        ("116.40,95,116.42,96", 400, "invalid_parameter"),
        ("116.40,39.92,200,39.94", 400, "invalid_parameter"),
        ("-180.5,39.92,116.42,39.94", 400, "invalid_parameter"),
    ],
)
async def test_a_bbox_that_is_not_four_ordered_numbers_is_refused_naming_it(
    client: Client, world: World, bbox: str, status: int, code: str
) -> None:
    for path in (VENUES, "/api/v1/restricted-features"):
        assert_problem(await client.get(path, params={"bbox": bbox}), status, code, fields=["bbox"])


async def test_an_unknown_venue_is_not_found(client: Client, world: World) -> None:
    assert_problem(await client.get(f"{VENUES}/5b0e9c47-1d2a-4f63-8e7b-a4c91d3f6e20"), 404, "venue_not_found")
    assert_problem(await client.get(VENUES, params={"kind": "bazaar"}), 400, "invalid_parameter", fields=["kind"])


# --- amending -----------------------------------------------------------------------------------------------------


async def test_an_amendment_changes_only_what_it_sends_and_makes_a_revision(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    before = await counts(session)
    response = await client.patch(
        f"{VENUES}/{venue['id']}",
        json={"name": "东华门便民市集", "closed_dates": ["2026-10-01"], "reason": "更名"},
        headers={**world.office, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"2"'
    assert (body["name"], body["closed_dates"], body["version"]) == ("东华门便民市集", ["2026-10-01"], 2)
    assert body["geometry"] == venue["geometry"]
    assert body["schedule"] == venue["schedule"]
    after = await counts(session)
    assert after["venue_revisions"] == before["venue_revisions"] + 1
    assert after["counter"] == before["counter"] + 1
    revision = await session.scalar(
        select(VenueRevision).where(VenueRevision.venue_id == venue["id"], VenueRevision.revision == 2)
    )
    assert revision is not None
    assert (revision.change, revision.reason) == ("amended", "更名")
    assert revision.snapshot["name"] == "东华门便民市集"


async def test_an_amendment_that_changes_nothing_answers_the_venue_as_it_stands(
    client: Client, world: World, session: AsyncSession
) -> None:
    venue = await establish(client, world)
    before = await counts(session)
    headers = {**world.office, "If-Match": '"1"'}
    for body in ({}, {"reason": "核对"}, {"name": venue["name"], "schedule": venue["schedule"]}):
        response = await client.patch(f"{VENUES}/{venue['id']}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"1"', body
        assert response.json() == venue
    assert await counts(session) == before, "no revision, no counter bump"


async def test_an_amendment_is_checked_as_a_whole(client: Client, world: World, session: AsyncSession) -> None:
    venue = await establish(client, world, valid_from="2026-03-01")
    before = await counts(session)
    headers = {**world.office, "If-Match": '"1"'}
    for body, field, code in (
        ({"valid_to": "2026-02-01"}, "valid_to", "validation_failed"),
        ({"geometry": _bowtie()}, "geometry", "validation_failed"),
        ({"geometry": box(800, 0, 900, 50)}, "geometry", "outside_jurisdiction"),
        ({"sidewalk_width_m": 3.0}, "sidewalk_width_m", "validation_failed"),
    ):
        response = await client.patch(f"{VENUES}/{venue['id']}", json=body, headers=headers)
        assert_problem(response, 422, code, fields=[field])
    assert await counts(session) == before


async def test_amending_needs_the_current_etag_after_scope(client: Client, world: World, session: AsyncSession) -> None:
    venue = await establish(client, world)
    path = f"{VENUES}/{venue['id']}"
    before = await counts(session)
    # Another jurisdiction's office learns nothing, with or without If-Match.
    for headers in (world.as_(world.other_staff), {**world.as_(world.other_staff), "If-Match": '"1"'}):
        assert_problem(await client.patch(path, json={"name": "x"}, headers=headers), 404, "venue_not_found")
        assert_problem(
            await client.post(f"{path}/status", json={"status": "closed", "reason": "x"}, headers=headers),
            404,
            "venue_not_found",
        )
    assert_problem(await client.patch(path, json={"name": "x"}, headers=world.as_(world.vendor)), 403, "forbidden")
    assert_problem(await client.patch(path, json={"name": "x"}, headers=world.office), 428, "precondition_required")
    stale = await client.patch(path, json={"name": "x"}, headers={**world.office, "If-Match": '"7"'})
    assert_problem(stale, 412, "precondition_failed")
    assert stale.headers["etag"] == '"1"'
    assert await counts(session) == before


# --- status -----------------------------------------------------------------------------------------------------


async def test_a_closed_venue_takes_no_new_pitches(client: Client, world: World, session: AsyncSession) -> None:
    venue = await establish(client, world)
    path = f"{VENUES}/{venue['id']}/status"
    headers = {**world.office, "If-Match": '"1"'}
    assert_problem(
        await client.post(path, json={"status": "closed"}, headers=headers), 422, "validation_failed", fields=["reason"]
    )
    response = await client.post(path, json={"status": "closed", "reason": "社区中心改建"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["current_status"], body["status_reason"], body["version"]) == (
        "closed",
        "closed",
        "社区中心改建",
        2,
    )
    before = await counts(session)
    assert_problem(await mark(client, world, venue["id"], "A-01", box(-1, -1, 0, 0)), 409, "venue_not_open")
    assert await counts(session) == before


async def test_a_closure_announced_for_a_later_day_takes_pitches_until_that_day(
    client: Client, world: World, session: AsyncSession, clock: FixedClock
) -> None:
    venue = await establish(client, world)
    closes = START + dt.timedelta(days=3)
    response = await client.post(
        f"{VENUES}/{venue['id']}/status",
        json={"status": "closed", "reason": "社区中心改建", "from": closes.isoformat()},
        headers={**world.office, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["current_status"] == "open"
    assert (await mark(client, world, venue["id"], "A-01", box(-1, -1, 0, 0))).status_code == 201
    clock.set(closes)
    before = await counts(session)
    assert_problem(await mark(client, world, venue["id"], "A-02", box(1, 1, 2, 2)), 409, "venue_not_open")
    assert await counts(session) == before


async def test_a_suspension_runs_for_its_period(client: Client, world: World) -> None:
    venue = await establish(client, world)
    path = f"{VENUES}/{venue['id']}/status"
    headers = {**world.office, "If-Match": '"1"'}
    bad = {
        "status": "suspended",
        "reason": "管线施工",
        "from": "2026-07-06T00:00:00+08:00",
        "until": "2026-07-01T00:00:00+08:00",
    }
    assert_problem(await client.post(path, json=bad, headers=headers), 422, "validation_failed", fields=["until"])
    later = {**bad, "until": "2026-07-20T00:00:00+08:00"}
    response = await client.post(path, json=later, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # Announced for next month: open today, suspended from 6 July.
    assert (body["status"], body["current_status"]) == ("suspended", "open")
    assert dt.datetime.fromisoformat(body["status_until"]) == dt.datetime(2026, 7, 19, 16, 0, tzinfo=dt.UTC)
    reopened = await client.post(path, json={"status": "open"}, headers={**world.office, "If-Match": '"2"'})
    assert reopened.json()["status_reason"] is None
    assert reopened.json()["version"] == 3
