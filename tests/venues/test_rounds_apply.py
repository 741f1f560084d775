"""Applying to a round: POST /allocation-rounds/{id}/applications."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from tests.clock import START
from tests.problems import assert_problem
from tests.venues.builders import box, make_pitch
from tests.venues.round_builders import CLOSE, Place, make_allocation, make_application, make_place, make_round
from venues.models import AllocationRound, RoundApplication


@dataclasses.dataclass
class Open:
    place: Place
    round: AllocationRound

    @property
    def url(self) -> str:
        return f"/api/v1/allocation-rounds/{self.round.id}/applications"

    def choices(self, *indexes: int) -> list[str]:
        return [str(self.place.pitches[index].id) for index in indexes]


@pytest.fixture
async def open_round(session: AsyncSession, settings: Settings) -> Open:
    place = await make_place(session, settings, pitches=6)
    round_ = await make_round(
        session, jurisdiction_code=place.jurisdiction.code, created_by=place.office, pitches=place.pitches
    )
    await session.commit()
    return Open(place=place, round=round_)


async def _applications(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RoundApplication)) or 0)


async def test_apply_gives_a_fresh_applicant_ref_and_refuses_a_second_application(
    client: httpx.AsyncClient, open_round: Open, session: AsyncSession
) -> None:
    body = {"choices": open_round.choices(2, 0), "activity_code": "shoe_repair"}
    first = await client.post(open_round.url, json=body, headers=open_round.place.as_vendor(0))
    assert first.status_code == 201, first.text
    answer = first.json()
    assert re.fullmatch(r"[0-9a-f]{32}", answer["applicant_ref"])
    assert answer["choices"] == body["choices"]
    assert answer["activity_code"] == "shoe_repair"
    assert first.headers["location"] == f"/api/v1/allocation-rounds/{open_round.round.id}/my-result"
    other = await client.post(
        open_round.url, json={"choices": open_round.choices(0)}, headers=open_round.place.as_vendor(1)
    )
    assert other.status_code == 201
    assert other.json()["applicant_ref"] != answer["applicant_ref"]

    again = await client.post(
        open_round.url, json={"choices": open_round.choices(1)}, headers=open_round.place.as_vendor(0)
    )
    assert_problem(again, 409, "already_applied")
    assert await _applications(session) == 2
    shown = await client.get(f"/api/v1/allocation-rounds/{open_round.round.id}")
    assert shown.json()["application_count"] == 2
    assert str(open_round.place.vendors[0].id) not in shown.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"choices": [0, 1, 0]}, "choices"),
        ({"choices": [0, 1, 2, 3, 4, 5]}, "choices"),
        ({"choices": []}, "choices"),
        ({"choices": [0, "outside"]}, "choices"),
        ({"choices": [0], "activity_code": "juggling_knives"}, "activity_code"),
        ({"choices": [0], "activity_code": "cooked_snacks"}, "activity_code"),
        ({"choices": [0], "activity_code": "Shoe Repair"}, "activity_code"),
        ({"choices": ["not-a-uuid"]}, "choices[0]"),
    ],
    ids=[
        "repeated",
        "six",
        "none",
        "not_in_round",
        "unknown_activity",
        "activity_not_allowed",
        "activity_malformed",
        "not_a_uuid",
    ],
)
async def test_apply_refuses_bad_choices(
    client: httpx.AsyncClient,
    open_round: Open,
    session: AsyncSession,
    body: dict[str, Any],
    field: str,
) -> None:
    outside = await make_pitch(
        session, venue=open_round.place.venue, created_by=open_round.place.office, geometry=box(0, 5, 1, 6)
    )
    await session.commit()

    def choice(item: Any) -> str:
        if item == "outside":
            return str(outside.id)
        return item if isinstance(item, str) else str(open_round.place.pitches[item].id)

    sent = {**body, "choices": [choice(item) for item in body["choices"]]}
    response = await client.post(open_round.url, json=sent, headers=open_round.place.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert await _applications(session) == 0


def test_apply_documents_the_status_it_answers_for_too_many_choices(app: Any) -> None:
    # The test above: six choices or none is a 422 naming `choices`; the description says so, not 400.
    paths = app.openapi_schema.to_schema()["paths"]
    description = paths["/api/v1/allocation-rounds/{round_id}/applications"]["post"]["description"]
    assert "400" not in description
    assert "more than five choices or none (422" in description


@pytest.mark.parametrize(
    ("what", "status", "code"),
    [
        ("venue", "closed", "venue_not_open"),
        ("venue", "suspended", "venue_not_open"),
        ("pitch", "closed", "pitch_not_open"),
    ],
)
async def test_apply_refuses_places_not_open(
    client: httpx.AsyncClient, open_round: Open, session: AsyncSession, what: str, status: str, code: str
) -> None:
    target = open_round.place.venue if what == "venue" else open_round.place.pitches[1]
    target.status = status
    target.status_reason = "社区改造"
    await session.commit()
    response = await client.post(
        open_round.url, json={"choices": open_round.choices(1)}, headers=open_round.place.as_vendor()
    )
    assert_problem(response, 409, code)
    assert await _applications(session) == 0


@pytest.mark.parametrize("what", ["venue", "pitch"])
@pytest.mark.parametrize(
    ("status", "starts", "ends"),
    [("suspended", -48, -1), ("closed", 24, None)],
    ids=["suspension_over", "closure_not_yet"],
)
async def test_apply_judges_a_status_by_its_period(
    client: httpx.AsyncClient,
    open_round: Open,
    session: AsyncSession,
    what: str,
    status: str,
    starts: int,
    ends: int | None,
) -> None:
    # A suspension whose `until` has passed no longer blocks; a closure from tomorrow does not block yet.
    target = open_round.place.venue if what == "venue" else open_round.place.pitches[1]
    target.status = status
    target.status_reason = "社区改造"
    target.status_from = START + dt.timedelta(hours=starts)
    target.status_until = None if ends is None else START + dt.timedelta(hours=ends)
    await session.commit()
    response = await client.post(
        open_round.url, json={"choices": open_round.choices(1)}, headers=open_round.place.as_vendor()
    )
    assert response.status_code == 201, response.text


async def test_apply_refuses_after_the_close(
    client: httpx.AsyncClient, open_round: Open, session: AsyncSession, clock: FixedClock
) -> None:
    clock.set(CLOSE - dt.timedelta(seconds=1))
    response = await client.post(
        open_round.url, json={"choices": open_round.choices(0)}, headers=open_round.place.as_vendor(0)
    )
    assert response.status_code == 201
    clock.set(CLOSE)
    late = await client.post(
        open_round.url, json={"choices": open_round.choices(0)}, headers=open_round.place.as_vendor(1)
    )
    assert_problem(late, 409, "applications_closed")
    assert await _applications(session) == 1


async def test_apply_refuses_a_vendor_holding_a_pitch_for_an_overlapping_term(
    client: httpx.AsyncClient, open_round: Open, session: AsyncSession, settings: Settings
) -> None:
    place = open_round.place
    elsewhere = await make_pitch(session, venue=place.venue, created_by=place.office, geometry=box(0, 8, 1, 9))
    earlier = await make_round(
        session,
        jurisdiction_code=place.jurisdiction.code,
        created_by=place.office,
        pitches=[elsewhere],
        term_start=dt.date(2026, 4, 1),
        term_end=dt.date(2026, 7, 15),
        applications_close_at=CLOSE - dt.timedelta(days=90),
    )
    held = await make_application(session, round_=earlier, vendor=place.vendors[0], choices=[elsewhere])
    await make_allocation(session, application=held, pitch=elsewhere)
    await session.commit()
    response = await client.post(open_round.url, json={"choices": open_round.choices(0)}, headers=place.as_vendor(0))
    assert_problem(response, 409, "already_holds_pitch")
    assert await _applications(session) == 1


async def test_apply_is_for_vendors_and_known_rounds(
    client: httpx.AsyncClient, open_round: Open, session: AsyncSession
) -> None:
    body = {"choices": open_round.choices(0)}
    assert_problem(await client.post(open_round.url, json=body, headers=open_round.place.as_office()), 403, "forbidden")
    assert_problem(await client.post(open_round.url, json=body), 401, "not_authenticated")
    unknown = "/api/v1/allocation-rounds/0b7e2f4c-5a1d-4e8b-9c3f-2d6a1e0f9b84/applications"
    assert_problem(await client.post(unknown, json=body, headers=open_round.place.as_vendor()), 404, "round_not_found")
    assert await _applications(session) == 0
