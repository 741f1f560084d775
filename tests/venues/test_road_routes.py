"""POST/GET /road-occupancy-requests and withdraw: approval, every check refusing, the permit flow, who sees what."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import coords
from core.clock import FixedClock
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Account, Jurisdiction, Vendor
from tests.builders import NEIGHBOUR_SQUARE, auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.builders import box, make_feature, make_pitch, make_venue, point
from tests.venues.road_builders import (
    TOMORROW_MORNING,
    at,
    body,
    make_allocated_pitch,
    make_occupancy,
    make_road_zone,
    period,
)
from tests.venues.round_builders import make_round
from venues.models import RoadOccupancy, RoadOccupancyPeriod, Venue
from venues.road import NoPermitFlow
from venues.road_rules import Period

URL = "/api/v1/road-occupancy-requests"
ALL_CHECKS = [
    "zone_open",
    "activity_allowed",
    "within_schedule",
    "duration",
    "inside_venue",
    "no_overlap",
    "clear_of_restricted",
    "area_cap",
    "walkway_clear",
    "capacity",
]


@dataclass
class City:
    settings: Settings
    jurisdiction: Jurisdiction
    staff: Account
    vendor: Vendor
    other_vendor: Vendor
    zone: Venue

    def as_vendor(self, vendor: Vendor | None = None) -> dict[str, str]:
        return vendor_headers(self.settings, vendor or self.vendor)

    def as_staff(self) -> dict[str, str]:
        return auth_headers(self.settings, self.staff)


@pytest.fixture
async def city(session: AsyncSession, settings: Settings) -> City:
    place = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=place.code)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=place.code)
    other = await make_vendor(session, settings, residence_jurisdiction_code=place.code)
    zone = await make_road_zone(session, jurisdiction_code=place.code, created_by=staff)
    await session.commit()
    return City(settings, place, staff, vendor, other, zone)


async def _occupancies(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RoadOccupancy)) or 0)


async def _periods(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RoadOccupancyPeriod)) or 0)


def _check(problem_or_out: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in problem_or_out["checks"] if c["check"] == name]
    assert len(found) == 1, problem_or_out["checks"]
    return found[0]


def _failed(problem: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(c["check"] for c in problem["checks"] if not c["passed"]))


async def _refused(
    client: httpx.AsyncClient, city: City, session: AsyncSession, request: dict[str, Any]
) -> dict[str, Any]:
    """A request refused by its checks: 422 road_occupancy_refused with every check, and nothing written."""
    before = await _occupancies(session)
    problem = assert_problem(
        await client.post(URL, json=request, headers=city.as_vendor()), 422, "road_occupancy_refused"
    )
    # One clear_of_restricted per feature near the zone.
    assert list(dict.fromkeys(c["check"] for c in problem["checks"])) == ALL_CHECKS
    assert await _occupancies(session) == before
    return problem


# --- approval -----------------------------------------------------------------------------------------------


async def test_a_sidewalk_zone_with_its_joint_approval_approves_at_once_free_of_charge(
    client: httpx.AsyncClient, city: City
) -> None:
    response = await client.post(URL, json=body(city.zone), headers=city.as_vendor())
    assert response.status_code == 201, response.text
    out = response.json()
    assert response.headers["location"] == f"{URL}/{out['id']}"
    assert out["status"] == "approved"
    assert out["fee_cny"] == 0
    assert "27号" in out["fee_exemption_basis"]
    assert "Art. 37" in out["fee_exemption_basis"]
    assert out["application_id"] is None
    assert out["venue_revision"] == 1
    assert out["vendor_id"] == str(city.vendor.id)
    assert [c["check"] for c in out["checks"]] == ALL_CHECKS
    assert all(c["passed"] for c in out["checks"])
    assert out["area_m2"] == pytest.approx(1.44, abs=0.01)
    assert [dt.datetime.fromisoformat(p["start"]) for p in out["periods"]] == [TOMORROW_MORNING[0]]
    again = await client.get(response.headers["location"], headers=city.as_vendor())
    assert again.status_code == 200
    assert again.json() == out


async def test_gcj02_footprints_are_stored_in_wgs84(client: httpx.AsyncClient, city: City) -> None:
    wgs = box(-18, 0, -16.8, 1.2)
    shifted = {
        "type": "Polygon",
        "coordinates": [[list(coords.wgs84_to_gcj02(lon, lat)) for lon, lat in wgs["coordinates"][0]]],
    }
    assert abs(shifted["coordinates"][0][0][0] - wgs["coordinates"][0][0][0]) > 0.001  # hundreds of metres apart
    response = await client.post(
        URL, json=body(city.zone, footprint=shifted, coordinate_system="gcj02"), headers=city.as_vendor()
    )
    assert response.status_code == 201, response.text
    for got, want in zip(response.json()["footprint"]["coordinates"][0], wgs["coordinates"][0], strict=True):
        assert got == pytest.approx(want, abs=1e-6)  # about 10 cm


async def test_back_to_back_periods_on_one_footprint_do_not_overlap(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    await make_occupancy(
        session,
        zone=city.zone,
        vendor=city.other_vendor,
        footprint=box(-18, 0, -16.8, 1.2),
        periods=[(at(16, 8), at(16, 10))],
    )
    await session.commit()
    response = await client.post(URL, json=body(city.zone), headers=city.as_vendor())
    assert response.status_code == 201, response.text


# --- each check refusing ------------------------------------------------------------------------------------


async def test_an_overlap_in_space_and_time_with_an_approved_or_pending_occupancy_is_refused(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    for status in ("approved", "pending_permit"):
        held = await make_occupancy(
            session,
            zone=city.zone,
            vendor=city.other_vendor,
            footprint=box(-17.5, 0, -16, 1.2),
            periods=[(at(16, 11), at(16, 13))],
            status=status,
        )
        await session.commit()
        problem = await _refused(client, city, session, body(city.zone))
        assert _failed(problem) == ["no_overlap"]
        overlap = _check(problem, "no_overlap")
        assert overlap["refs"] == [f"road occupancy {held.id}"]
        assert overlap["periods"] == [0]
        assert problem["errors"][0]["field"] == "footprint"
        held.status = "withdrawn"
        held.withdrawn_at = at(15, 9)
        await session.commit()
    response = await client.post(URL, json=body(city.zone), headers=city.as_vendor())
    assert response.status_code == 201, "a withdrawn occupancy holds nothing"


async def test_an_allocated_pitch_of_the_zone_holds_its_footprint_for_its_term(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    pitch = await make_allocated_pitch(
        session,
        zone=city.zone,
        vendor=city.other_vendor,
        created_by=city.staff,
        geometry=box(-17.5, 0, -16, 1.2),
        term=(dt.date(2026, 6, 16), dt.date(2026, 6, 30)),
    )
    await session.commit()
    problem = await _refused(client, city, session, body(city.zone))
    assert _check(problem, "no_overlap")["refs"] == [f"pitch {pitch.label}"]
    after_term = body(city.zone, periods=[(at(1, 10, month=7), at(1, 12, month=7))])
    response = await client.post(URL, json=after_term, headers=city.as_vendor())
    assert response.status_code == 201, response.text


async def test_a_pitch_offered_in_an_open_round_holds_its_footprint_for_the_round_term(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    # Not drawn yet, nobody holds it: the draw may hand it to anyone for the whole term, so the ground is spoken for.
    pitch = await make_pitch(session, venue=city.zone, created_by=city.staff, geometry=box(-17.5, 0, -16, 1.2))
    await make_round(session, jurisdiction_code=city.jurisdiction.code, created_by=city.staff, pitches=[pitch])
    await session.commit()
    during_term = body(city.zone, periods=[(at(2, 10, month=7), at(2, 12, month=7))])
    problem = await _refused(client, city, session, during_term)
    assert "no_overlap" in _failed(problem)
    assert _check(problem, "no_overlap")["refs"] == [f"pitch {pitch.label}"]
    after_term = body(city.zone, periods=[(at(1, 10, month=10), at(1, 12, month=10))])
    response = await client.post(URL, json=after_term, headers=city.as_vendor())
    assert response.status_code == 201, response.text


async def test_a_released_pitch_holds_nothing(client: httpx.AsyncClient, city: City, session: AsyncSession) -> None:
    await make_allocated_pitch(
        session,
        zone=city.zone,
        vendor=city.other_vendor,
        created_by=city.staff,
        geometry=box(-17.5, 0, -16, 1.2),
        term=(dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
        status="released",
    )
    await session.commit()
    assert (await client.post(URL, json=body(city.zone), headers=city.as_vendor())).status_code == 201


async def test_the_walkway_counts_every_footprint_of_an_overlapping_period_not_one_stall_depth(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    # The sidewalk is 3.6 m wide. Across the street side of x = 0…1.5 a stall 1.2 m deep is approved; a stall
    # 1.0 m deep on the building side alone leaves 2.6 m, but with the first only 1.4 m: below 1.8 m.
    await make_occupancy(
        session, zone=city.zone, vendor=city.other_vendor, footprint=box(0, 0, 1.5, 1.2), periods=[TOMORROW_MORNING]
    )
    await session.commit()
    opposite = box(0, 2.6, 1.2, 3.6)
    problem = await _refused(client, city, session, body(city.zone, footprint=opposite))
    assert _failed(problem) == ["walkway_clear"]
    walkway = _check(problem, "walkway_clear")
    assert walkway["measured"] == pytest.approx(1.4, abs=0.02)
    assert walkway["limit"] == 1.8
    assert walkway["periods"] == [0]
    later = body(city.zone, footprint=opposite, periods=[(at(16, 14), at(16, 16))])
    response = await client.post(URL, json=later, headers=city.as_vendor())
    assert response.status_code == 201, "in another period the first stall takes no walkway"
    assert _check(response.json(), "walkway_clear")["measured"] == pytest.approx(2.6, abs=0.02)


async def test_a_zone_clearance_replaces_the_citys_walkway(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    city.zone.min_clearance_m = 3.0
    await session.merge(city.zone)
    await session.commit()
    problem = await _refused(client, city, session, body(city.zone, footprint=box(0, 0, 1.2, 1.2)))
    assert _check(problem, "walkway_clear")["limit"] == 3.0


async def test_buffers_of_restricted_features_apply_for_the_activitys_category(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    hydrant = await make_feature(
        session, jurisdiction_code=city.jurisdiction.code, created_by=city.staff, geometry=point(19, 4)
    )
    # A school gate 80 m from the west end: 50 m for any stall, 100 m for food.
    await make_feature(
        session,
        jurisdiction_code=city.jurisdiction.code,
        created_by=city.staff,
        kind="school_gate",
        geometry=point(-18, 81.2),
    )
    await session.commit()
    near_hydrant = body(city.zone, footprint=box(15, 0, 16.2, 1.2))
    problem = await _refused(client, city, session, near_hydrant)
    assert _failed(problem) == ["clear_of_restricted"]
    failed = next(c for c in problem["checks"] if c["check"] == "clear_of_restricted" and not c["passed"])
    assert failed["feature"] == str(hydrant.id)
    assert failed["kind"] == "fire_hydrant"
    assert failed["distance_m"] == pytest.approx(2.8 * 2**0.5, abs=0.01)
    assert failed["required_m"] == 30.0
    food = await _refused(client, city, session, body(city.zone, activity_code="prepackaged_snacks"))
    gate = next(c for c in food["checks"] if c.get("kind") == "school_gate")
    assert not gate["passed"]
    assert gate["required_m"] == 100.0
    response = await client.post(URL, json=body(city.zone, activity_code="shoe_repair"), headers=city.as_vendor())
    assert response.status_code == 201, "a shoe-repair stall needs only 50 m from a school gate"


async def test_a_footprint_outside_the_zone_or_over_the_stall_cap_is_refused(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    problem = await _refused(client, city, session, body(city.zone, footprint=box(19, 2, 21, 3)))
    assert _failed(problem) == ["inside_venue"]
    problem = await _refused(client, city, session, body(city.zone, footprint=box(0, 0, 1.5, 1.5)))
    assert _failed(problem) == ["area_cap"]
    assert _check(problem, "area_cap")["measured"] == pytest.approx(2.25, abs=0.01)


async def test_periods_outside_the_zones_hours_dates_or_validity_are_refused(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    late = [TOMORROW_MORNING, (at(16, 21), at(16, 23))]
    problem = await _refused(client, city, session, body(city.zone, periods=late))
    assert _failed(problem) == ["within_schedule"]
    assert _check(problem, "within_schedule")["periods"] == [1]
    assert problem["errors"] == [{"field": "periods[1]", "message": _check(problem, "within_schedule")["detail"]}]
    city.zone.closed_dates = [dt.date(2026, 6, 16)]
    city.zone.valid_to = dt.date(2026, 6, 20)
    await session.merge(city.zone)
    await session.commit()
    assert _failed(await _refused(client, city, session, body(city.zone))) == ["within_schedule"]
    expired = body(city.zone, periods=[(at(22, 10), at(22, 12))])
    assert _failed(await _refused(client, city, session, expired)) == ["within_schedule"]


async def test_a_suspended_or_closed_zone_takes_no_requests(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    city.zone.status = "suspended"
    city.zone.status_reason = "道路维修"
    city.zone.status_from = at(16, 0)
    city.zone.status_until = at(17, 0)
    await session.merge(city.zone)
    await session.commit()
    problem = await _refused(client, city, session, body(city.zone))
    assert _failed(problem) == ["zone_open"]
    assert problem["errors"][0]["field"] == "zone_id"
    after = body(city.zone, periods=[(at(17, 10), at(17, 12))])
    assert (await client.post(URL, json=after, headers=city.as_vendor())).status_code == 201
    city.zone.status = "closed"
    city.zone.status_until = None
    await session.merge(city.zone)
    await session.commit()
    later = body(city.zone, periods=[(at(18, 10), at(18, 12))])
    assert _failed(await _refused(client, city, session, later)) == ["zone_open"]


async def test_a_zone_is_judged_by_its_standing_now_not_its_stored_status(
    client: httpx.AsyncClient, city: City, session: AsyncSession, clock: FixedClock
) -> None:
    # A suspension that has run out blocks nothing, though the row still says suspended.
    city.zone.status = "suspended"
    city.zone.status_reason = "道路维修"
    city.zone.status_from = at(15, 0)
    city.zone.status_until = at(16, 0)
    await session.merge(city.zone)
    await session.commit()
    clock.set(at(16, 9))
    response = await client.post(URL, json=body(city.zone), headers=city.as_vendor())
    assert response.status_code == 201, response.text
    # A closure announced for the 20th takes requests for the days before it, not after.
    city.zone.status = "closed"
    city.zone.status_from = at(20, 0)
    city.zone.status_until = None
    await session.merge(city.zone)
    await session.commit()
    before = body(city.zone, periods=[(at(18, 10), at(18, 12))])
    response = await client.post(URL, json=before, headers=city.as_vendor())
    assert response.status_code == 201, response.text
    after = body(city.zone, footprint=box(-10, 0, -8.8, 1.2), periods=[(at(20, 10), at(20, 12))])
    problem = await _refused(client, city, session, after)
    assert _failed(problem) == ["zone_open"]
    assert problem["errors"][0]["field"] == "zone_id"


async def test_the_zones_capacity_counts_occupancies_at_the_busiest_instant(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    city.zone.capacity = 2
    await session.merge(city.zone)
    # Two others, one after the other, far from the request's footprint: at most one at once, so room.
    await make_occupancy(
        session,
        zone=city.zone,
        vendor=city.other_vendor,
        footprint=box(10, 0, 11, 1),
        periods=[(at(16, 9), at(16, 11))],
    )
    await make_occupancy(
        session,
        zone=city.zone,
        vendor=city.other_vendor,
        footprint=box(12, 0, 13, 1),
        periods=[(at(16, 11), at(16, 13))],
    )
    await session.commit()
    response = await client.post(URL, json=body(city.zone), headers=city.as_vendor())
    assert response.status_code == 201, response.text
    assert _check(response.json(), "capacity")["measured"] == 2.0
    problem = await _refused(client, city, session, body(city.zone, footprint=box(-10, 0, -9, 1)))
    assert _failed(problem) == ["capacity"]
    assert _check(problem, "capacity")["limit"] == 2.0


async def test_the_longest_period_and_request_come_from_the_rules(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    city.zone.schedule = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "05:59"}]
    await session.merge(city.zone)
    await session.commit()
    day_and_more = body(city.zone, periods=[(at(16, 6), at(17, 6, 30))])
    problem = await _refused(client, city, session, day_and_more)
    assert "duration" in _failed(problem)
    assert _check(problem, "duration")["periods"] == [0]
    assert _check(problem, "duration")["limit"] == 24
    over_three_months = body(city.zone, periods=[TOMORROW_MORNING, (at(16, 10, month=9), at(16, 12, month=9))])
    problem = await _refused(client, city, session, over_three_months)
    assert _failed(problem) == ["duration"]
    assert _check(problem, "duration")["limit"] == 90
    assert {"field": "periods", "message": _check(problem, "duration")["detail"]} in problem["errors"]


async def test_an_activity_the_zone_does_not_allow_or_no_stall_may_sell_is_refused(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    for code in ("cooked_snacks", "cigarettes"):
        problem = await _refused(client, city, session, body(city.zone, activity_code=code))
        assert _failed(problem) == ["activity_allowed"]
        assert problem["errors"][0]["field"] == "activity_code"


async def test_every_failed_check_is_reported_at_once(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    bad = body(
        city.zone, footprint=box(19, 2, 21, 4), periods=[(at(16, 21), at(16, 23))], activity_code="cooked_snacks"
    )
    problem = await _refused(client, city, session, bad)
    assert _failed(problem) == ["activity_allowed", "within_schedule", "inside_venue", "area_cap"]
    assert [e["field"] for e in problem["errors"]] == ["activity_code", "periods[0]", "footprint", "footprint"]


async def test_not_a_road_zone_and_an_unknown_zone(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    space = await make_venue(session, jurisdiction_code=city.jurisdiction.code, created_by=city.staff)
    await session.commit()
    assert_problem(await client.post(URL, json=body(space), headers=city.as_vendor()), 422, "not_a_road_zone")
    unknown = {**body(city.zone), "zone_id": str(uuid.uuid4())}
    assert_problem(await client.post(URL, json=unknown, headers=city.as_vendor()), 404, "venue_not_found")
    assert await _occupancies(session) == 0


# --- the permit flow ----------------------------------------------------------------------------------------


@dataclass
class FakePermitFlow:
    """Records what venues hands over, as permits will receive it."""

    opened: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    async def open_road_occupancy_application(
        self,
        session: AsyncSession,
        *,
        occupancy_id: uuid.UUID,
        vendor_id: uuid.UUID,
        zone_id: uuid.UUID,
        activity_code: str,
        periods: Sequence[Period],
    ) -> uuid.UUID:
        application_id = uuid.uuid4()
        self.opened.append(
            {
                "application_id": application_id,
                "occupancy_id": occupancy_id,
                "vendor_id": vendor_id,
                "zone_id": zone_id,
                "activity_code": activity_code,
                "periods": list(periods),
            }
        )
        return application_id

    async def road_occupancy_withdrawn(
        self, session: AsyncSession, *, occupancy_id: uuid.UUID, application_id: uuid.UUID
    ) -> None:
        self.withdrawn.append((occupancy_id, application_id))


@pytest.fixture
async def permit_client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[httpx.AsyncClient, FakePermitFlow]]:
    flow = FakePermitFlow()
    app = create_app(settings, sessionmaker=sessionmaker, permit_flow=flow)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client, flow


async def test_a_carriageway_zone_hands_the_request_to_the_permit_flow_and_the_pending_request_holds_its_slot(
    permit_client: tuple[httpx.AsyncClient, FakePermitFlow], city: City, session: AsyncSession
) -> None:
    client, flow = permit_client
    carriageway = await make_road_zone(
        session,
        jurisdiction_code=city.jurisdiction.code,
        created_by=city.staff,
        name="东华门大街机动车道",
        is_carriageway=True,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    await session.commit()
    response = await client.post(URL, json=body(carriageway), headers=city.as_vendor())
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["status"] == "pending_permit"
    assert out["fee_cny"] == 0
    [opened] = flow.opened
    assert out["application_id"] == str(opened["application_id"])
    assert opened["occupancy_id"] == uuid.UUID(out["id"])
    assert opened["vendor_id"] == city.vendor.id
    assert opened["zone_id"] == carriageway.id
    assert opened["periods"] == [TOMORROW_MORNING]
    stored = await session.get(RoadOccupancy, uuid.UUID(out["id"]), populate_existing=True)
    assert stored is not None
    assert stored.application_id == opened["application_id"]

    later = await client.post(URL, json=body(carriageway), headers=city.as_vendor(city.other_vendor))
    problem = assert_problem(later, 422, "road_occupancy_refused")
    assert _failed(problem) == ["no_overlap"]
    assert len(flow.opened) == 1

    withdrawn = await client.post(f"{URL}/{out['id']}/withdraw", headers=city.as_vendor())
    assert withdrawn.status_code == 200, withdrawn.text
    assert flow.withdrawn == [(opened["occupancy_id"], opened["application_id"])]


@pytest.mark.parametrize(
    "zone_fields",
    [
        {"is_carriageway": True, "joint_approval_valid_to": None},
        {"joint_approval_valid_to": None},
        {"joint_approval_valid_to": dt.date(2026, 6, 15)},
    ],
    ids=["carriageway", "no joint approval", "joint approval ends before the period"],
)
async def test_without_a_permit_flow_a_request_that_needs_a_permit_is_refused_and_nothing_written(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    city: City,
    session: AsyncSession,
    zone_fields: dict[str, Any],
) -> None:
    """An app wired with venues' NoPermitFlow (a deployment without the permits domain) refuses honestly."""
    if zone_fields.get("joint_approval_valid_to") is None:
        zone_fields = {**zone_fields, "joint_approval_road_document": None, "joint_approval_police_document": None}
    zone = await make_road_zone(session, jurisdiction_code=city.jurisdiction.code, created_by=city.staff, **zone_fields)
    await session.commit()
    app = create_app(settings, sessionmaker=sessionmaker, permit_flow=NoPermitFlow())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(URL, json=body(zone), headers=city.as_vendor())
    problem = assert_problem(response, 409, "permit_flow_unavailable")
    assert "not yet available" in problem["detail"]
    assert await _occupancies(session) == 0


async def test_checks_come_before_the_permit_flow(
    permit_client: tuple[httpx.AsyncClient, FakePermitFlow], city: City, session: AsyncSession
) -> None:
    client, flow = permit_client
    zone = await make_road_zone(
        session,
        jurisdiction_code=city.jurisdiction.code,
        created_by=city.staff,
        joint_approval_road_document=None,
        joint_approval_police_document=None,
        joint_approval_valid_to=None,
    )
    await session.commit()
    response = await client.post(URL, json=body(zone, footprint=box(0, 0, 2, 2)), headers=city.as_vendor())
    assert_problem(response, 422, "road_occupancy_refused")
    assert flow.opened == []


# --- bad input ----------------------------------------------------------------------------------------------


def _with_periods(city: City, *periods: dict[str, Any]) -> dict[str, Any]:
    return {**body(city.zone), "periods": list(periods)}


BAD_INPUT: list[tuple[str, Any, list[str]]] = [
    ("zero-length period", lambda c: _with_periods(c, period(at(16, 10), at(16, 10))), ["periods[0]"]),
    ("end before start", lambda c: _with_periods(c, period(at(16, 12), at(16, 10))), ["periods[0]"]),
    (
        "naive datetime",
        lambda c: _with_periods(c, {"start": "2026-06-16T10:00:00", "end": "2026-06-16T12:00:00+08:00"}),
        ["periods[0].start"],
    ),
    ("not a datetime", lambda c: _with_periods(c, {"start": "tomorrow", "end": "later"}), ["periods[0].start"]),
    (
        "year 9999",
        lambda c: _with_periods(c, {"start": "9999-12-31T23:00:00-14:00", "end": "9999-12-31T23:30:00-14:00"}),
        ["periods[0]"],
    ),
    ("no periods", lambda c: _with_periods(c), ["periods"]),
    ("93 periods", lambda c: _with_periods(c, *[period(at(16, 10), at(16, 12))] * 93), ["periods"]),
    (
        "unknown period field",
        lambda c: _with_periods(c, {**period(*TOMORROW_MORNING), "all_day": True}),
        ["periods[0].all_day"],
    ),
    ("point footprint", lambda c: {**body(c.zone), "footprint": point(0, 1)}, ["footprint.type"]),
    ("unknown coordinate system", lambda c: {**body(c.zone), "coordinate_system": "bd09"}, ["coordinate_system"]),
    ("activity code shape", lambda c: {**body(c.zone), "activity_code": "Shoe Repair"}, ["activity_code"]),
    ("zone id not a uuid", lambda c: {**body(c.zone), "zone_id": "zone-1"}, ["zone_id"]),
    ("unknown field", lambda c: {**body(c.zone), "fee_cny": 100}, ["fee_cny"]),
    ("missing activity", lambda c: {k: v for k, v in body(c.zone).items() if k != "activity_code"}, ["activity_code"]),
]


@pytest.mark.parametrize(("case", "make", "fields"), BAD_INPUT, ids=[case for case, _, _ in BAD_INPUT])
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    client: httpx.AsyncClient, city: City, session: AsyncSession, case: str, make: Any, fields: list[str]
) -> None:
    response = await client.post(URL, json=make(city), headers=city.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=fields)
    assert await _occupancies(session) == 0


RULE_REFUSALS: list[tuple[str, Any, list[str]]] = [
    ("unknown activity", lambda c: body(c.zone, activity_code="unicorn_rides"), ["activity_code"]),
    (
        "bowtie footprint",
        lambda c: body(
            c.zone,
            footprint={
                "type": "Polygon",
                "coordinates": [
                    [[116.41, 39.93], [116.41001, 39.93001], [116.41001, 39.93], [116.41, 39.93001], [116.41, 39.93]]
                ],
            },
        ),
        ["footprint"],
    ),
    (
        "swapped latitude and longitude",
        lambda c: body(
            c.zone,
            footprint={
                "type": "Polygon",
                "coordinates": [[[39.93, 116.41], [39.93, 116.41001], [39.93001, 116.41001], [39.93, 116.41]]],
            },
        ),
        ["footprint.coordinates"],
    ),
    ("a period in the past", lambda c: body(c.zone, periods=[(at(15, 8), at(15, 9))]), ["periods[0].start"]),
    (
        "periods overlapping each other",
        lambda c: body(c.zone, periods=[(at(16, 10), at(16, 12)), (at(17, 10), at(17, 12)), (at(16, 11), at(16, 13))]),
        ["periods[2]"],
    ),
]


@pytest.mark.parametrize(("case", "make", "fields"), RULE_REFUSALS, ids=[case for case, _, _ in RULE_REFUSALS])
async def test_input_that_breaks_a_rule_is_refused_naming_the_field_and_nothing_is_written(
    client: httpx.AsyncClient, city: City, session: AsyncSession, case: str, make: Any, fields: list[str]
) -> None:
    response = await client.post(URL, json=make(city), headers=city.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=fields)
    assert await _occupancies(session) == 0
    assert await _periods(session) == 0


# --- who may do what ----------------------------------------------------------------------------------------


async def test_only_vendors_request_road_occupancy(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    for headers in (city.as_staff(), auth_headers(city.settings, admin)):
        assert_problem(await client.post(URL, json=body(city.zone), headers=headers), 403, "forbidden")
    assert_problem(await client.post(URL, json=body(city.zone)), 401, "not_authenticated")
    assert await _occupancies(session) == 0


async def test_who_reads_which_requests(client: httpx.AsyncClient, city: City, session: AsyncSession) -> None:
    mine = await make_occupancy(
        session, zone=city.zone, vendor=city.vendor, footprint=box(0, 0, 1, 1), periods=[TOMORROW_MORNING]
    )
    theirs = await make_occupancy(
        session, zone=city.zone, vendor=city.other_vendor, footprint=box(2, 0, 3, 1), periods=[TOMORROW_MORNING]
    )
    elsewhere = await make_jurisdiction(session, boundary=NEIGHBOUR_SQUARE, min_lon=116.42, max_lon=116.44)
    foreign_staff = await make_account(session, "street_office", jurisdiction_code=elsewhere.code)
    department = await make_account(session, "department", department_code="traffic_police")
    admin = await make_account(session, "admin")
    await session.commit()

    async def listed(headers: dict[str, str]) -> set[str]:
        response = await client.get(URL, headers=headers)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await listed(city.as_vendor()) == {str(mine.id)}
    assert await listed(city.as_staff()) == {str(mine.id), str(theirs.id)}
    assert await listed(auth_headers(city.settings, admin)) >= {str(mine.id), str(theirs.id)}
    assert await listed(auth_headers(city.settings, foreign_staff)) == set()
    assert (await client.get(f"{URL}/{theirs.id}", headers=city.as_staff())).status_code == 200
    for headers in (city.as_vendor(), auth_headers(city.settings, foreign_staff)):
        assert_problem(await client.get(f"{URL}/{theirs.id}", headers=headers), 404, "road_occupancy_not_found")
    assert_problem(await client.get(f"{URL}/{uuid.uuid4()}", headers=city.as_vendor()), 404, "road_occupancy_not_found")
    for path in (URL, f"{URL}/{mine.id}"):
        assert_problem(await client.get(path, headers=auth_headers(city.settings, department)), 403, "forbidden")


async def test_lists_filter_by_status_and_zone_and_page(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    other_zone = await make_road_zone(session, jurisdiction_code=city.jurisdiction.code, created_by=city.staff)
    made = [
        await make_occupancy(
            session,
            zone=zone,
            vendor=city.vendor,
            footprint=box(x, 0, x + 1, 1),
            periods=[TOMORROW_MORNING],
            status=status,
        )
        for x, zone, status in [(0, city.zone, "approved"), (2, city.zone, "withdrawn"), (4, other_zone, "approved")]
    ]
    await session.commit()
    response = await client.get(URL, params={"status": "approved"}, headers=city.as_vendor())
    assert {item["id"] for item in response.json()["items"]} == {str(made[0].id), str(made[2].id)}
    response = await client.get(URL, params={"zone_id": str(city.zone.id)}, headers=city.as_vendor())
    assert {item["id"] for item in response.json()["items"]} == {str(made[0].id), str(made[1].id)}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(URL, params=params, headers=city.as_vendor())).json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(str(o.id) for o in made)
    assert_problem(await client.get(URL, params={"status": "lost"}, headers=city.as_vendor()), 400, "invalid_parameter")
    assert_problem(await client.get(URL, params={"limit": 201}, headers=city.as_vendor()), 400, "invalid_parameter")


# --- withdrawing --------------------------------------------------------------------------------------------


async def test_the_holder_withdraws_once_and_the_slot_is_free_again(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    created = (await client.post(URL, json=body(city.zone), headers=city.as_vendor())).json()
    path = f"{URL}/{created['id']}/withdraw"
    assert_problem(await client.post(path, headers=city.as_vendor(city.other_vendor)), 404, "road_occupancy_not_found")
    assert_problem(await client.post(path, headers=city.as_staff()), 403, "forbidden")
    response = await client.post(path, headers=city.as_vendor())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawn_at"] is not None
    assert_problem(await client.post(path, headers=city.as_vendor()), 409, "road_occupancy_not_active")
    again = await client.post(URL, json=body(city.zone), headers=city.as_vendor(city.other_vendor))
    assert again.status_code == 201, again.text
    assert_problem(
        await client.post(f"{URL}/{uuid.uuid4()}/withdraw", headers=city.as_vendor()), 404, "road_occupancy_not_found"
    )
