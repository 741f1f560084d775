"""After the draw: GET /allocation-rounds/{id}/my-result, GET /allocations, GET /allocations/{id} and
POST /allocations/{id}/release (the pitch goes down the waiting list)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_claim, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.builders import box, make_pitch
from tests.venues.round_builders import (
    CLOSE,
    TERM_END,
    TERM_START,
    Applied,
    make_allocation,
    make_application,
    make_applied_round,
    make_round,
)
from venues.models import Allocation, Pitch

AFTER_CLOSE = CLOSE + dt.timedelta(minutes=5)


@pytest.fixture
async def applied(session: AsyncSession, settings: Settings) -> Applied:
    made = await make_applied_round(session, settings)
    await session.commit()
    return made


async def _draw(client: httpx.AsyncClient, applied: Applied, clock: FixedClock) -> dict[str, Any]:
    clock.set(AFTER_CLOSE)
    response = await client.post(f"{applied.url}/draw", json={}, headers=applied.place.as_office())
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()
    return results


def _index_of(applied: Applied, ref: str) -> int:
    return next(index for index, known in applied.refs.items() if known == ref)


async def _mine(client: httpx.AsyncClient, applied: Applied, index: int) -> dict[str, Any]:
    response = await client.get(f"{applied.url}/my-result", headers=applied.place.as_vendor(index))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_my_result_before_the_draw(client: httpx.AsyncClient, applied: Applied) -> None:
    mine = await _mine(client, applied, 0)
    assert (mine["status"], mine["round_status"], mine["applicant_ref"]) == ("awaiting_draw", "open", applied.refs[0])
    assert (mine["position"], mine["allocation_id"], mine["tier"]) == (None, None, None)
    assert [choice["outcome"] for choice in mine["choices"]] == [None, None, None]


async def test_my_result_says_what_each_got_and_why(
    client: httpx.AsyncClient, applied: Applied, clock: FixedClock
) -> None:
    results = await _draw(client, applied, clock)
    order = [entry["applicant_ref"] for entry in results["order"]]
    pitches = [str(pitch.id) for pitch in applied.place.pitches]

    first = await _mine(client, applied, _index_of(applied, order[0]))
    assert (first["status"], first["position"], first["tier"]) == ("allocated", 1, 2)
    assert first["lottery_key"] == results["order"][0]["lottery_key"]
    assert [c["outcome"] for c in first["choices"]] == ["assigned", "not_needed", "not_needed"]
    assert first["allocation"]["pitch"]["pitch_id"] == pitches[0]
    assert first["allocation_id"] == first["allocation"]["id"]

    second = await _mine(client, applied, _index_of(applied, order[1]))
    assert [c["outcome"] for c in second["choices"]] == ["taken_before_your_turn", "assigned", "not_needed"]
    assert second["choices"][0]["taken_by_position"] == 1
    assert second["allocation"]["choice_rank"] == 2

    last = await _mine(client, applied, _index_of(applied, order[4]))
    assert (last["status"], last["position"], last["waiting_position"]) == ("waiting", 5, 2)
    assert [c["taken_by_position"] for c in last["choices"]] == [1, 2, 3]
    assert last["allocation"] is None
    assert last["allocation_id"] is None


async def test_holders_see_their_pitch_suspended(
    client: httpx.AsyncClient, applied: Applied, clock: FixedClock, session: AsyncSession
) -> None:
    results = await _draw(client, applied, clock)
    pitch = applied.place.pitches[0]
    pitch.status = "suspended"
    pitch.status_reason = "国庆期间安保"
    applied.place.venue.status_reason = None
    await session.commit()
    holder = await _mine(client, applied, _index_of(applied, results["order"][0]["applicant_ref"]))
    standing = holder["allocation"]["pitch"]
    assert (standing["status"], standing["status_reason"], standing["venue_status"]) == (
        "suspended",
        "国庆期间安保",
        "open",
    )


async def test_my_result_is_the_applicants_own(
    client: httpx.AsyncClient, applied: Applied, session: AsyncSession, settings: Settings
) -> None:
    stranger = await make_vendor(session, settings, residence_jurisdiction_code=applied.place.jurisdiction.code)
    await session.commit()
    url = f"{applied.url}/my-result"
    assert_problem(await client.get(url, headers=vendor_headers(settings, stranger)), 404, "application_not_found")
    assert_problem(await client.get(url, headers=applied.place.as_office()), 403, "forbidden")
    unknown = "/api/v1/allocation-rounds/0b7e2f4c-5a1d-4e8b-9c3f-2d6a1e0f9b84/my-result"
    assert_problem(await client.get(unknown, headers=applied.place.as_vendor()), 404, "round_not_found")


async def test_an_applicant_holding_another_pitch_is_told_they_were_left_out(
    client: httpx.AsyncClient, applied: Applied, session: AsyncSession, clock: FixedClock
) -> None:
    place = applied.place
    elsewhere = await make_pitch(session, venue=place.venue, created_by=place.office, geometry=box(0, 8, 1, 9))
    earlier = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=[elsewhere],
        term_start=dt.date(2026, 4, 1),
        term_end=TERM_START,
        applications_close_at=CLOSE - dt.timedelta(days=90),
    )
    held = await make_application(session, round_=earlier, vendor=place.vendors[2], choices=[elsewhere])
    await make_allocation(session, application=held, pitch=elsewhere)
    await session.commit()
    await _draw(client, applied, clock)
    mine = await _mine(client, applied, 2)
    assert (mine["status"], mine["position"]) == ("left_out", None)


@pytest.mark.parametrize(("closed_from", "passed"), [(-1, False), (24, True)], ids=["closed", "closing_tomorrow"])
async def test_a_released_pitch_passes_down_unless_it_is_closed_now(
    client: httpx.AsyncClient,
    applied: Applied,
    clock: FixedClock,
    session: AsyncSession,
    closed_from: int,
    passed: bool,
) -> None:
    results = await _draw(client, applied, clock)
    holder = _index_of(applied, results["assignments"][1]["applicant_ref"])
    mine = await _mine(client, applied, holder)
    released_at = dt.datetime(2026, 7, 10, 9, 0, tzinfo=CLOSE.tzinfo)
    pitch = await session.get(Pitch, uuid.UUID(results["assignments"][1]["pitch_id"]))
    assert pitch is not None
    pitch.status = "closed"
    pitch.status_reason = "社区改造"
    pitch.status_from = released_at + dt.timedelta(hours=closed_from)
    await session.commit()

    clock.set(released_at)
    response = await client.post(
        f"/api/v1/allocations/{mine['allocation_id']}/release", headers=applied.place.as_vendor(holder)
    )
    assert response.status_code == 200, response.text
    expected = results["waiting_list"][0] if passed else None
    assert response.json()["passed_to_applicant_ref"] == expected


async def test_a_released_pitch_goes_to_the_first_waiting_applicant_who_chose_it(
    client: httpx.AsyncClient, applied: Applied, clock: FixedClock, session: AsyncSession
) -> None:
    results = await _draw(client, applied, clock)
    holder = _index_of(applied, results["assignments"][1]["applicant_ref"])
    first_waiting = _index_of(applied, results["waiting_list"][0])
    mine = await _mine(client, applied, holder)
    url = f"/api/v1/allocations/{mine['allocation_id']}/release"

    clock.set(dt.datetime(2026, 7, 10, 9, 0, tzinfo=CLOSE.tzinfo))
    response = await client.post(url, headers=applied.place.as_vendor(holder))
    assert response.status_code == 200, response.text
    released = response.json()
    assert released["allocation"]["status"] == "released"
    assert released["passed_to_applicant_ref"] == results["waiting_list"][0]
    assert (await _mine(client, applied, holder))["status"] == "released"

    successor = await _mine(client, applied, first_waiting)
    assert successor["status"] == "allocated"
    allocation = successor["allocation"]
    assert (allocation["source"], allocation["replaces_id"]) == ("waiting_list", mine["allocation_id"])
    assert allocation["pitch"]["pitch_id"] == results["assignments"][1]["pitch_id"]
    assert (allocation["term_start"], allocation["term_end"]) == ("2026-07-10", TERM_END.isoformat())
    assert allocation["choice_rank"] == 2

    second_waiting = await _mine(client, applied, _index_of(applied, results["waiting_list"][1]))
    assert (second_waiting["status"], second_waiting["waiting_position"]) == ("waiting", 2)
    gave_up = await _mine(client, applied, holder)
    assert [c["outcome"] for c in gave_up["choices"]] == ["taken_before_your_turn", "assigned", "not_needed"]

    again = await client.post(url, headers=applied.place.as_vendor(holder))
    assert_problem(again, 409, "allocation_released")
    assert await session.scalar(select(func.count()).select_from(Allocation)) == 4


async def test_the_waiting_list_skips_who_holds_a_pitch_or_did_not_choose_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    made = await make_applied_round(session, settings, pitches=2, vendors=2)
    place = made.place
    extra = [
        await make_vendor(session, settings, residence_jurisdiction_code=place.jurisdiction.code) for _ in range(3)
    ]
    # Waiting applicants: one wants only pitch 1, one will hold a pitch elsewhere, one wants pitch 0.
    only_other = await make_application(session, round_=made.round, vendor=extra[0], choices=[place.pitches[1]])
    busy = await make_application(session, round_=made.round, vendor=extra[1], choices=place.pitches)
    wants = await make_application(session, round_=made.round, vendor=extra[2], choices=[place.pitches[0]])
    # The first two are served first (a verified key group), so they take both pitches and the rest wait.
    for vendor in place.vendors:
        await make_claim(
            session,
            vendor,
            status="verified",
            valid_until=dt.date(2027, 1, 1),
            submitted_at=CLOSE - dt.timedelta(days=3),
        )
    await session.commit()
    results = await _draw(client, made, clock)
    assignments = {a["applicant_ref"]: a["pitch_id"] for a in results["assignments"]}
    assert set(assignments) == set(made.refs.values())
    assert set(results["waiting_list"]) == {only_other.applicant_ref, busy.applicant_ref, wants.applicant_ref}
    elsewhere = await make_pitch(session, venue=place.venue, created_by=place.office, geometry=box(0, 8, 1, 9))
    other_round = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=[elsewhere],
        term_start=dt.date(2026, 8, 1),
        term_end=dt.date(2026, 8, 31),
        applications_close_at=CLOSE - dt.timedelta(days=30),
    )
    busy_elsewhere = await make_application(session, round_=other_round, vendor=extra[1], choices=[elsewhere])
    await make_allocation(session, application=busy_elsewhere, pitch=elsewhere)
    await session.commit()
    holder_of_0 = next(ref for ref, pitch in assignments.items() if pitch == str(place.pitches[0].id))
    index = _index_of(made, holder_of_0)
    allocation_id = (await _mine(client, made, index))["allocation_id"]
    released = await client.post(f"/api/v1/allocations/{allocation_id}/release", headers=made.place.as_vendor(index))
    assert released.json()["passed_to_applicant_ref"] == wants.applicant_ref


async def test_allocations_are_read_by_their_holder_and_staff_of_the_jurisdiction(
    client: httpx.AsyncClient, applied: Applied, clock: FixedClock, session: AsyncSession, settings: Settings
) -> None:
    results = await _draw(client, applied, clock)
    holder = _index_of(applied, results["assignments"][0]["applicant_ref"])
    listed = await client.get("/api/v1/allocations", headers=applied.place.as_vendor(holder))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 1
    url = f"/api/v1/allocations/{items[0]['id']}"
    assert (await client.get(url, headers=applied.place.as_vendor(holder))).json() == items[0]
    assert (await client.get(url, headers=applied.place.as_office())).status_code == 200
    assert (await client.get(url, headers=applied.place.as_admin())).status_code == 200
    staff_list = await client.get("/api/v1/allocations", headers=applied.place.as_office())
    assert len(staff_list.json()["items"]) == 3

    other = await make_jurisdiction(session)
    foreign = await make_account(session, "street_office", jurisdiction_code=other.code)
    department = await make_account(session, "department", department_code="market_regulation")
    await session.commit()
    waiting = _index_of(applied, results["waiting_list"][0])
    assert_problem(await client.get(url, headers=applied.place.as_vendor(waiting)), 404, "allocation_not_found")
    assert_problem(await client.get(url, headers=auth_headers(settings, foreign)), 404, "allocation_not_found")
    assert_problem(await client.get(url, headers=auth_headers(settings, department)), 403, "forbidden")
    assert (await client.get("/api/v1/allocations", headers=auth_headers(settings, foreign))).json()["items"] == []

    release = f"{url}/release"
    assert_problem(await client.post(release, headers=applied.place.as_vendor(waiting)), 404, "allocation_not_found")
    assert_problem(await client.post(release, headers=applied.place.as_office()), 403, "forbidden")
    still = await session.scalar(select(Allocation.status).where(Allocation.id == items[0]["id"]))
    assert still == "held"
