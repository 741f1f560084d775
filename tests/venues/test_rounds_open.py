"""Opening allocation rounds, and reading them: POST/GET /allocation-rounds, GET /allocation-rounds/{id}."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from tests.builders import auth_headers
from tests.clock import START
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import box, make_pitch, make_venue
from tests.venues.road_builders import at, make_occupancy, make_road_zone
from tests.venues.round_builders import CLOSE, TERM_END, TERM_START, Place, make_place, make_round
from venues.models import AllocationRound, RoundPitch

URL = "/api/v1/allocation-rounds"


@pytest.fixture
async def place(session: AsyncSession, settings: Settings) -> Place:
    made = await make_place(session, settings)
    await session.commit()
    return made


def _body(place: Place, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "东华门社区2026年第三季度便民摊位",
        "pitch_ids": [str(pitch.id) for pitch in place.pitches],
        "term_start": TERM_START.isoformat(),
        "term_end": TERM_END.isoformat(),
        "applications_close_at": CLOSE.isoformat(),
    }
    body.update(overrides)
    return body


async def _rounds(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AllocationRound)) or 0)


async def test_open_round_publishes_the_commitment_never_the_seed(
    client: httpx.AsyncClient, place: Place, session: AsyncSession
) -> None:
    response = await client.post(URL, json=_body(place), headers=place.as_office())
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{URL}/{body['id']}"
    assert body["status"] == "open"
    assert body["jurisdiction_code"] == place.jurisdiction.code
    assert body["pitch_ids"] == [str(pitch.id) for pitch in place.pitches]
    assert body["priority_tiers"] == [
        ["laid_off_unemployed", "college_graduate", "migrant_worker", "employment_difficulty"]
    ]
    assert "seed" not in body
    stored = await session.get(AllocationRound, body["id"])
    assert stored is not None
    assert len(stored.seed) == 32
    assert body["seed_commitment"] == hashlib.sha256(stored.seed).hexdigest()
    assert stored.seed.hex() not in response.text

    read = await client.get(f"{URL}/{body['id']}")
    assert read.status_code == 200
    assert read.json()["seed_commitment"] == body["seed_commitment"]
    assert stored.seed.hex() not in read.text
    assert (read.json()["pitch_count"], read.json()["application_count"]) == (4, 0)


async def test_open_round_with_tiers_and_a_beacon(client: httpx.AsyncClient, place: Place) -> None:
    beacon = {"description": "福彩3D 2026166期开奖号码", "available_after": "2026-06-20T21:30:00+08:00"}
    tiers = [["employment_difficulty", "college_graduate"], ["laid_off_unemployed", "migrant_worker"]]
    response = await client.post(URL, json=_body(place, priority_tiers=tiers, beacon=beacon), headers=place.as_admin())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["priority_tiers"] == tiers
    assert body["beacon"]["description"] == beacon["description"]
    assert dt.datetime.fromisoformat(body["beacon"]["available_after"]) == dt.datetime.fromisoformat(
        beacon["available_after"]
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"term_end": "2026-06-30"}, "term_end"),
        ({"term_end": "2027-09-30"}, "term_end"),
        ({"applications_close_at": "2026-06-15T09:59:00+08:00"}, "applications_close_at"),
        ({"applications_close_at": "2026-07-01T08:00:00+08:00"}, "applications_close_at"),
        (
            {
                "applications_close_at": "2028-06-20T18:00:00+08:00",
                "term_start": "2028-07-01",
                "term_end": "2028-09-30",
            },
            "applications_close_at",
        ),
        (
            {"priority_tiers": [["college_graduate", "migrant_worker"], ["college_graduate", "employment_difficulty"]]},
            "priority_tiers",
        ),
        (
            {"beacon": {"description": "福彩3D 2026160期", "available_after": "2026-06-19T21:30:00+08:00"}},
            "beacon.available_after",
        ),
        (
            {"beacon": {"description": "福彩3D", "available_after": "2026-08-20T21:30:00+08:00"}},
            "beacon.available_after",
        ),
    ],
    ids=[
        "term_end_before_start",
        "term_too_long",
        "close_in_the_past",
        "close_after_term_start",
        "close_years_ahead",
        "tier_repeats",
        "beacon_before_close",
        "beacon_months_after_close",
    ],
)
async def test_open_round_refuses_bad_terms(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=_body(place, **overrides), headers=place.as_office())
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert await _rounds(session) == 0


@pytest.mark.parametrize(
    "tiers",
    [
        [["employment_difficulty"], ["college_graduate"]],
        [["employment_difficulty", "college_graduate", "migrant_worker"], ["laid_off_unemployed"]],
    ],
    ids=["two_lone_groups", "one_lone_group"],
)
async def test_open_round_refuses_a_tier_of_one_key_group(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, tiers: list[list[str]]
) -> None:
    # Tiers and each applicant_ref's tier are public: a tier of one group would reveal its applicants' group.
    response = await client.post(URL, json=_body(place, priority_tiers=tiers), headers=place.as_office())
    body = assert_problem(response, 422, "validation_failed", fields=["priority_tiers"])
    assert "reveal" in body["errors"][0]["message"]
    assert await _rounds(session) == 0


async def test_open_round_refuses_repeated_pitches(
    client: httpx.AsyncClient, place: Place, session: AsyncSession
) -> None:
    ids = [str(place.pitches[0].id), str(place.pitches[1].id), str(place.pitches[0].id)]
    response = await client.post(URL, json=_body(place, pitch_ids=ids), headers=place.as_office())
    assert_problem(response, 422, "validation_failed", fields=["pitch_ids"])
    assert await _rounds(session) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pitch_ids": []}, "pitch_ids"),
        ({"priority_tiers": [["key_people"]]}, "priority_tiers[0][0]"),
        ({"priority_tiers": [[]]}, "priority_tiers[0]"),
        ({"applications_close_at": "2026-06-20T18:00:00"}, "applications_close_at"),
        ({"term_start": "2026-07-32"}, "term_start"),
        ({"colour": "red"}, "colour"),
    ],
    ids=["no_pitches", "unknown_group", "empty_tier", "naive_close", "bad_date", "unknown_field"],
)
async def test_open_round_refuses_bodies_off_the_schema(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=_body(place, **body), headers=place.as_office())
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert await _rounds(session) == 0


async def test_open_round_refuses_too_many_pitches(client: httpx.AsyncClient, place: Place) -> None:
    ids = [str(place.pitches[0].id)] * 5001
    response = await client.post(URL, json=_body(place, pitch_ids=ids), headers=place.as_office())
    assert_problem(response, 422, "validation_failed", fields=["pitch_ids"])


async def test_open_round_does_not_reveal_another_jurisdictions_pitches(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, settings: Settings
) -> None:
    other = await make_jurisdiction(session)
    office = await make_account(session, "street_office", jurisdiction_code=other.code)
    theirs = await make_venue(session, jurisdiction_code=other.code, created_by=office)
    their_pitch = await make_pitch(session, venue=theirs, created_by=office)
    await session.commit()
    unknown = "0b7e2f4c-5a1d-4e8b-9c3f-2d6a1e0f9b84"
    refused = []
    for pitch_id in (str(their_pitch.id), unknown):
        response = await client.post(
            URL, json=_body(place, pitch_ids=[str(place.pitches[0].id), pitch_id]), headers=place.as_office()
        )
        body = assert_problem(response, 422, "validation_failed", fields=["pitch_ids"])
        refused.append(body["errors"][0]["message"].replace(pitch_id, "…"))
    assert refused[0] == refused[1]
    assert await _rounds(session) == 0


async def test_open_round_refuses_pitches_of_two_jurisdictions_even_for_an_admin(
    client: httpx.AsyncClient, place: Place, session: AsyncSession
) -> None:
    other = await make_jurisdiction(session)
    theirs = await make_venue(session, jurisdiction_code=other.code, created_by=place.admin)
    their_pitch = await make_pitch(session, venue=theirs, created_by=place.admin)
    await session.commit()
    ids = [str(place.pitches[0].id), str(their_pitch.id)]
    response = await client.post(URL, json=_body(place, pitch_ids=ids), headers=place.as_admin())
    assert_problem(response, 422, "validation_failed", fields=["pitch_ids"])
    assert await _rounds(session) == 0


@pytest.mark.parametrize(("what", "code"), [("venue", "venue_not_open"), ("pitch", "pitch_not_open")])
async def test_open_round_refuses_closed_places(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, what: str, code: str
) -> None:
    target = place.venue if what == "venue" else place.pitches[1]
    target.status = "suspended"
    target.status_reason = "道路施工"
    await session.commit()
    response = await client.post(URL, json=_body(place), headers=place.as_office())
    assert_problem(response, 409, code)
    assert await _rounds(session) == 0


@pytest.mark.parametrize("what", ["venue", "pitch"])
@pytest.mark.parametrize(
    ("status", "starts", "ends"),
    [("suspended", -48, -1), ("closed", 24, None)],
    ids=["suspension_over", "closure_not_yet"],
)
async def test_open_round_judges_a_status_by_its_period(
    client: httpx.AsyncClient,
    place: Place,
    session: AsyncSession,
    what: str,
    status: str,
    starts: int,
    ends: int | None,
) -> None:
    # A suspension whose `until` has passed no longer blocks; a closure from tomorrow does not block yet.
    target = place.venue if what == "venue" else place.pitches[1]
    target.status = status
    target.status_reason = "道路施工"
    target.status_from = START + dt.timedelta(hours=starts)
    target.status_until = None if ends is None else START + dt.timedelta(hours=ends)
    await session.commit()
    response = await client.post(URL, json=_body(place), headers=place.as_office())
    assert response.status_code == 201, response.text


async def test_a_road_zone_pitch_held_by_an_occupancy_during_the_term_is_refused(
    client: httpx.AsyncClient, place: Place, session: AsyncSession
) -> None:
    zone = await make_road_zone(session, jurisdiction_code=place.jurisdiction.code, created_by=place.office)
    taken, pending, early, withdrawn, beside = [
        await make_pitch(session, venue=zone, created_by=place.office, label=f"R-{n}", geometry=box(x, 0, x + 1, 1))
        for n, x in enumerate((-18, -14, -10, -6, -2))
    ]
    vendor = place.vendors[0]
    in_term = [(at(5, 10, month=7), at(5, 12, month=7))]
    # Approved, overlapping, in the term.
    await make_occupancy(session, zone=zone, vendor=vendor, footprint=box(-17.5, 0, -16.5, 1), periods=in_term)
    # Awaiting its permit, overlapping, on the term's last evening (a day of the term in the city's calendar).
    last_evening = [(at(30, 23, month=9), at(30, 23, 30, month=9))]
    await make_occupancy(
        session,
        zone=zone,
        vendor=vendor,
        footprint=box(-13.5, 0, -12.5, 1),
        periods=last_evening,
        status="pending_permit",
    )
    # Overlapping, but only before the term; withdrawn; sharing an edge only.
    await make_occupancy(
        session, zone=zone, vendor=vendor, footprint=box(-9.5, 0, -8.5, 1), periods=[(at(16, 10), at(16, 12))]
    )
    await make_occupancy(
        session, zone=zone, vendor=vendor, footprint=box(-5.5, 0, -4.5, 1), periods=in_term, status="withdrawn"
    )
    await make_occupancy(session, zone=zone, vendor=vendor, footprint=box(-1, 0, 0, 1), periods=in_term)
    await session.commit()

    refused = await client.post(
        URL, json=_body(place, pitch_ids=[str(early.id), str(taken.id), str(pending.id)]), headers=place.as_office()
    )
    body = assert_problem(refused, 409, "pitch_occupied")
    assert str(taken.id) in body["detail"]
    assert str(pending.id) in body["detail"]
    assert str(early.id) not in body["detail"]
    assert await _rounds(session) == 0
    free = [str(early.id), str(withdrawn.id), str(beside.id)]
    response = await client.post(URL, json=_body(place, pitch_ids=free), headers=place.as_office())
    assert response.status_code == 201, response.text


async def test_a_pitch_is_in_one_round_per_overlapping_term(
    client: httpx.AsyncClient, place: Place, session: AsyncSession
) -> None:
    first = await client.post(URL, json=_body(place), headers=place.as_office())
    assert first.status_code == 201
    overlapping = _body(place, pitch_ids=[str(place.pitches[3].id)], term_start="2026-09-30", term_end="2026-10-31")
    response = await client.post(URL, json=overlapping, headers=place.as_office())
    assert_problem(response, 409, "pitch_in_another_round")
    assert await _rounds(session) == 1
    after = _body(place, pitch_ids=[str(place.pitches[3].id)], term_start="2026-10-01", term_end="2026-12-31")
    assert (await client.post(URL, json=after, headers=place.as_office())).status_code == 201


async def test_only_street_offices_and_admins_open_rounds(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, settings: Settings
) -> None:
    department = await make_account(session, "department", department_code="market_regulation")
    await session.commit()
    for headers in (place.as_vendor(), auth_headers(settings, department)):
        assert_problem(await client.post(URL, json=_body(place), headers=headers), 403, "forbidden")
    assert_problem(await client.post(URL, json=_body(place)), 401, "not_authenticated")
    assert await _rounds(session) == 0


async def test_round_status_follows_the_clock_and_lists_filter(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, clock: FixedClock
) -> None:
    early = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=place.pitches[:2],
        applications_close_at=START + dt.timedelta(hours=1),
    )
    late = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=place.pitches[2:],
        created_at=START + dt.timedelta(minutes=1),
    )
    await session.commit()
    listed = await client.get(URL, params={"jurisdiction_code": place.jurisdiction.code})
    assert [item["id"] for item in listed.json()["items"]] == [str(early.id), str(late.id)]
    assert [item["status"] for item in listed.json()["items"]] == ["open", "open"]
    clock.advance(dt.timedelta(hours=2))
    assert (await client.get(f"{URL}/{early.id}")).json()["status"] == "closed"
    closed = await client.get(URL, params={"jurisdiction_code": place.jurisdiction.code, "status": "closed"})
    assert [item["id"] for item in closed.json()["items"]] == [str(early.id)]
    still_open = await client.get(URL, params={"jurisdiction_code": place.jurisdiction.code, "status": "open"})
    assert [item["id"] for item in still_open.json()["items"]] == [str(late.id)]
    paged = await client.get(URL, params={"jurisdiction_code": place.jurisdiction.code, "limit": 1})
    assert paged.json()["next_cursor"]
    second = await client.get(
        URL, params={"jurisdiction_code": place.jurisdiction.code, "limit": 1, "cursor": paged.json()["next_cursor"]}
    )
    assert [item["id"] for item in second.json()["items"]] == [str(late.id)]


async def test_round_reads_refuse_bad_parameters(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{URL}/0b7e2f4c-5a1d-4e8b-9c3f-2d6a1e0f9b84"), 404, "round_not_found")
    assert (await client.get(URL, params={"status": "finished"})).status_code == 400
    assert (await client.get(URL, params={"jurisdiction_code": "1101"})).status_code == 400
    assert (await client.get(URL, params={"limit": 201})).status_code == 400


async def test_round_pitches_keep_their_order(client: httpx.AsyncClient, place: Place, session: AsyncSession) -> None:
    ids = [str(pitch.id) for pitch in reversed(place.pitches)]
    response = await client.post(URL, json=_body(place, pitch_ids=ids), headers=place.as_office())
    positions = await session.scalars(
        select(RoundPitch.pitch_id).where(RoundPitch.round_id == response.json()["id"]).order_by(RoundPitch.position)
    )
    assert [str(pitch_id) for pitch_id in positions] == ids


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_open_round_refuses_instants_at_the_calendars_ends(
    client: httpx.AsyncClient, place: Place, session: AsyncSession, instant: str
) -> None:
    body = _body(place, applications_close_at=instant, beacon={"description": "福彩3D", "available_after": instant})
    response = await client.post(URL, json=body, headers=place.as_office())
    assert_problem(response, 422, "validation_failed")
    assert await _rounds(session) == 0
