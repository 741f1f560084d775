"""The draw: POST /allocation-rounds/{id}/draw and GET /allocation-rounds/{id}/results."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from flexreg.cli import main as flexreg
from flexreg.verify_draw import verify
from registry.models import Vendor
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_claim, make_jurisdiction, make_vendor
from tests.venues.builders import box, make_pitch
from tests.venues.round_builders import (
    CLOSE,
    Applied,
    make_allocation,
    make_application,
    make_applied_round,
    make_place,
    make_round,
)
from venues.api.round_examples import examples as round_examples
from venues.api.rounds import RoundResultsOut
from venues.models import Allocation, AllocationRound, RoundApplication

AFTER_CLOSE = CLOSE + dt.timedelta(minutes=5)
BEFORE_CLOSE = CLOSE - dt.timedelta(days=2)


@pytest.fixture
async def closed(session: AsyncSession, settings: Settings, clock: FixedClock) -> Applied:
    made = await make_applied_round(session, settings)
    await session.commit()
    clock.set(AFTER_CLOSE)
    return made


async def _allocations(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Allocation)) or 0)


async def _drawn(session: AsyncSession, round_: AllocationRound) -> bool:
    return await session.scalar(select(AllocationRound.drawn_at).where(AllocationRound.id == round_.id)) is not None


async def _claim(session: AsyncSession, vendor: Vendor, **fields: Any) -> None:
    fields.setdefault("submitted_at", BEFORE_CLOSE)
    await make_claim(session, vendor, **fields)


async def test_the_draw_puts_verified_key_groups_first_and_allocates(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    vendors = closed.place.vendors
    valid = dt.date(2027, 6, 30)
    await _claim(session, vendors[0], status="verified", valid_until=valid)  # tier 1
    await _claim(session, vendors[1], status="verified", valid_until=valid, submitted_at=AFTER_CLOSE)  # too late
    await _claim(session, vendors[2], status="verified", valid_until=dt.date(2026, 6, 19))  # expired at the close
    await _claim(session, vendors[3], status="rejected")
    await _claim(session, vendors[4], group="migrant_worker", status="pending", submitted_at=AFTER_CLOSE)  # ignored
    await session.commit()

    response = await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_office())
    assert response.status_code == 200, response.text
    results = response.json()
    assert set(results) == {
        "algorithm",
        "round_id",
        "seed",
        "seed_commitment",
        "pitch_ids",
        "applications_digest",
        "order",
        "assignments",
        "waiting_list",
    }
    assert results["algorithm"] == "flexreg-draw-v1"
    assert results["round_id"] == str(closed.round.id)
    assert results["seed"] == closed.round.seed.hex()
    tiers = {entry["applicant_ref"]: entry["tier"] for entry in results["order"]}
    assert tiers == {closed.refs[0]: 1, **{closed.refs[i]: 2 for i in range(1, 5)}}
    assert results["order"][0]["applicant_ref"] == closed.refs[0]
    assert results["assignments"][0] == {
        "applicant_ref": closed.refs[0],
        "pitch_id": str(closed.place.pitches[0].id),
        "choice_rank": 1,
    }
    assert [a["choice_rank"] for a in results["assignments"]] == [1, 2, 3]
    assert len(results["waiting_list"]) == 2
    assert verify(results).matches
    for vendor in vendors:
        assert str(vendor.id) not in response.text
        assert vendor.name not in response.text
    for group in ("college_graduate", "migrant_worker", "key_group"):
        assert group not in response.text

    assert (await client.get(f"{closed.url}/results")).json() == results
    shown = (await client.get(closed.url)).json()
    assert (shown["status"], shown["applications_digest"]) == ("drawn", results["applications_digest"])
    assert await _allocations(session) == 3
    held = (await session.scalars(select(Allocation).order_by(Allocation.choice_rank))).all()
    assert held[0].vendor_id == vendors[0].id
    assert {(a.source, a.status, a.term_start, a.term_end) for a in held} == {
        ("draw", "held", closed.round.term_start, closed.round.term_end)
    }
    positions = dict((await session.execute(select(RoundApplication.applicant_ref, RoundApplication.position))).all())
    assert positions == {entry["applicant_ref"]: number for number, entry in enumerate(results["order"], start=1)}
    stored_tiers = dict((await session.execute(select(RoundApplication.vendor_id, RoundApplication.tier))).all())
    assert stored_tiers == {vendors[0].id: 1, **{vendor.id: 2 for vendor in vendors[1:]}}


async def test_custom_tier_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    made = await make_applied_round(
        session,
        settings,
        priority_tiers=[["employment_difficulty", "laid_off_unemployed"], ["college_graduate", "migrant_worker"]],
    )
    vendors = made.place.vendors
    await _claim(session, vendors[1], status="verified", valid_until=dt.date(2027, 1, 1))  # college_graduate
    await _claim(session, vendors[2], group="employment_difficulty", status="verified", valid_until=dt.date(2027, 1, 1))
    await _claim(session, vendors[3], group="migrant_worker", status="verified", valid_until=dt.date(2027, 1, 1))
    await session.commit()
    clock.set(AFTER_CLOSE)
    results = (await client.post(f"{made.url}/draw", json={}, headers=made.place.as_office())).json()
    tiers = {entry["applicant_ref"]: entry["tier"] for entry in results["order"]}
    assert tiers == {made.refs[0]: 3, made.refs[1]: 2, made.refs[2]: 1, made.refs[3]: 2, made.refs[4]: 3}
    served = [entry["applicant_ref"] for entry in results["order"]]
    assert served[0] == made.refs[2]
    assert set(served[1:3]) == {made.refs[1], made.refs[3]}


async def test_the_draw_leaves_out_pitches_not_open_at_the_draw(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    made = await make_applied_round(session, settings, pitches=3, vendors=4)
    closed, suspended_once, fine = made.place.pitches
    only_closed = await make_vendor(session, settings, residence_jurisdiction_code=made.place.jurisdiction.code)
    lost = await make_application(session, round_=made.round, vendor=only_closed, choices=[closed])
    closed.status, closed.status_reason, closed.status_from = "closed", "社区改造", CLOSE
    # A suspension over before the draw does not keep a pitch out.
    suspended_once.status, suspended_once.status_reason = "suspended", "管线检修"
    suspended_once.status_from, suspended_once.status_until = BEFORE_CLOSE, CLOSE
    await session.commit()
    clock.set(AFTER_CLOSE)

    response = await client.post(f"{made.url}/draw", headers=made.place.as_office())
    assert response.status_code == 200, response.text
    results = response.json()
    assert results["pitch_ids"] == [str(suspended_once.id), str(fine.id)]
    assert {entry["applicant_ref"] for entry in results["order"]} == set(made.refs.values())
    assert all(entry["choices"] == [str(suspended_once.id), str(fine.id)] for entry in results["order"])
    assert {a["pitch_id"] for a in results["assignments"]} == {str(suspended_once.id), str(fine.id)}
    assert verify(results).matches
    assert await _allocations(session) == 2
    left = await session.scalar(select(RoundApplication.position).where(RoundApplication.id == lost.id))
    assert left is None


async def test_the_draw_leaves_out_pitches_of_a_venue_closed_at_the_draw(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    venue = closed.place.venue
    venue.status, venue.status_reason, venue.status_from = "closed", "街区改造", CLOSE
    await session.commit()
    response = await client.post(f"{closed.url}/draw", headers=closed.place.as_office())
    assert response.status_code == 200, response.text
    results = response.json()
    assert (results["pitch_ids"], results["order"], results["assignments"]) == ([], [], [])
    assert await _allocations(session) == 0


async def test_a_claim_filed_before_the_close_and_still_pending_blocks_the_draw(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    await _claim(session, closed.place.vendors[3], group="laid_off_unemployed", status="pending")
    await session.commit()
    response = await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_office())
    assert_problem(response, 409, "claims_pending")
    assert not await _drawn(session, closed.round)
    assert await _allocations(session) == 0
    assert_problem(await client.get(f"{closed.url}/results"), 409, "round_not_drawn")


async def test_the_draw_refuses_before_the_close_and_twice(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession, clock: FixedClock
) -> None:
    clock.set(CLOSE - dt.timedelta(seconds=1))
    assert_problem(
        await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_office()), 409, "round_still_open"
    )
    assert not await _drawn(session, closed.round)
    clock.set(CLOSE)
    assert (await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_office())).status_code == 200
    again = await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_admin())
    assert_problem(again, 409, "round_already_drawn")
    assert await _allocations(session) == 3


async def test_a_round_without_a_beacon_is_drawn_with_no_body(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    # Nothing to send: the body is optional (`{}` works as well, see the tests above).
    response = await client.post(f"{closed.url}/draw", headers=closed.place.as_office())
    assert response.status_code == 200, response.text
    assert verify(response.json()).matches
    assert await _drawn(session, closed.round)
    assert await _allocations(session) == 3


async def test_a_round_with_a_beacon_drawn_with_no_body_names_beacon_value(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    made = await make_applied_round(
        session, settings, beacon_description="福彩3D 2026166期开奖号码", beacon_available_after=CLOSE
    )
    await session.commit()
    clock.set(AFTER_CLOSE)
    response = await client.post(f"{made.url}/draw", headers=made.place.as_office())
    assert_problem(response, 422, "validation_failed", fields=["beacon_value"])
    assert not await _drawn(session, made.round)


def test_the_draw_body_is_optional_in_the_schema(app: Any) -> None:
    operation = app.openapi_schema.to_schema()["paths"]["/api/v1/allocation-rounds/{round_id}/draw"]["post"]
    assert operation["requestBody"].get("required", False) is False
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DrawRound"
    }


async def test_a_round_with_a_beacon_needs_its_value_once_it_exists(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    available = CLOSE + dt.timedelta(hours=3)
    made = await make_applied_round(
        session, settings, beacon_description="福彩3D 2026166期开奖号码", beacon_available_after=available
    )
    await session.commit()
    draw_url = f"{made.url}/draw"
    headers = made.place.as_office()
    clock.set(AFTER_CLOSE)
    assert_problem(
        await client.post(draw_url, json={}, headers=headers), 422, "validation_failed", fields=["beacon_value"]
    )
    assert_problem(
        await client.post(draw_url, json={"beacon_value": None}, headers=headers),
        422,
        "validation_failed",
        fields=["beacon_value"],
    )
    early = await client.post(draw_url, json={"beacon_value": "4 7 1"}, headers=headers)
    assert_problem(early, 409, "beacon_not_available")
    assert not await _drawn(session, made.round)
    assert await _allocations(session) == 0
    clock.set(available)
    drawn = await client.post(draw_url, json={"beacon_value": "福彩3D 2026166: 4 7 1"}, headers=headers)
    assert drawn.status_code == 200, drawn.text
    results = drawn.json()
    assert results["beacon_value"] == "福彩3D 2026166: 4 7 1"
    assert verify(results).matches
    without_beacon = copy.deepcopy(results)
    del without_beacon["beacon_value"]
    assert not verify(without_beacon).matches


async def test_a_beacon_value_for_a_round_without_a_beacon_is_refused(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    response = await client.post(f"{closed.url}/draw", json={"beacon_value": "4 7 1"}, headers=closed.place.as_office())
    assert_problem(response, 422, "validation_failed", fields=["beacon_value"])
    assert not await _drawn(session, closed.round)


async def test_who_may_draw(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    other = await make_jurisdiction(session)
    foreign = await make_account(session, "street_office", jurisdiction_code=other.code)
    department = await make_account(session, "department", department_code="market_regulation")
    await session.commit()
    url = f"{closed.url}/draw"
    assert_problem(await client.post(url, json={}, headers=closed.place.as_vendor()), 403, "forbidden")
    assert_problem(await client.post(url, json={}, headers=auth_headers(settings, department)), 403, "forbidden")
    assert_problem(await client.post(url, json={}), 401, "not_authenticated")
    # Another jurisdiction's office learns nothing, whatever the round's state.
    assert_problem(await client.post(url, json={}, headers=auth_headers(settings, foreign)), 404, "round_not_found")
    clock.set(CLOSE - dt.timedelta(hours=1))
    assert_problem(await client.post(url, json={}, headers=auth_headers(settings, foreign)), 404, "round_not_found")
    assert not await _drawn(session, closed.round)
    clock.set(AFTER_CLOSE)
    assert (await client.post(url, json={}, headers=closed.place.as_admin())).status_code == 200


async def test_applicants_holding_a_pitch_for_an_overlapping_term_are_left_out(
    client: httpx.AsyncClient, closed: Applied, session: AsyncSession
) -> None:
    place = closed.place
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
    held = await make_application(session, round_=earlier, vendor=place.vendors[4], choices=[elsewhere])
    await make_allocation(session, application=held, pitch=elsewhere)
    await session.commit()
    results = (await client.post(f"{closed.url}/draw", json={}, headers=place.as_office())).json()
    refs = {entry["applicant_ref"] for entry in results["order"]}
    assert refs == {closed.refs[i] for i in range(4)}
    assert verify(results).matches


async def test_a_round_nobody_applied_to_draws_to_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    place = await make_place(session, settings, pitches=2, vendors=0)
    round_ = await make_round(
        session, jurisdiction_code=place.jurisdiction.code, created_by=place.office, pitches=place.pitches
    )
    await session.commit()
    clock.set(AFTER_CLOSE)
    results = (
        await client.post(f"/api/v1/allocation-rounds/{round_.id}/draw", json={}, headers=place.as_office())
    ).json()
    assert (results["order"], results["assignments"], results["waiting_list"]) == ([], [], [])
    assert verify(results).matches


async def test_verify_draw_matches_a_real_draw_and_rejects_a_tampered_copy(
    client: httpx.AsyncClient, closed: Applied, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await client.post(f"{closed.url}/draw", json={}, headers=closed.place.as_office())).status_code == 200
    published = (await client.get(f"{closed.url}/results")).json()
    genuine = tmp_path / "results.json"
    genuine.write_text(json.dumps(published, ensure_ascii=False))
    assert flexreg(["verify-draw", str(genuine)]) == 0
    assert "the draw matches" in capsys.readouterr().out

    tampered: dict[str, Any] = copy.deepcopy(published)
    # The office gives the last on the waiting list the first pitch instead.
    last = tampered["waiting_list"].pop()
    tampered["assignments"][0]["applicant_ref"] = last
    forged = tmp_path / "tampered.json"
    forged.write_text(json.dumps(tampered, ensure_ascii=False))
    assert flexreg(["verify-draw", str(forged)]) == 1
    assert "mismatch assignments" in capsys.readouterr().out
    assert not verify(tampered).matches


async def test_results_of_unknown_and_undrawn_rounds(client: httpx.AsyncClient, closed: Applied) -> None:
    assert_problem(await client.get(f"{closed.url}/results"), 409, "round_not_drawn")
    unknown = "/api/v1/allocation-rounds/0b7e2f4c-5a1d-4e8b-9c3f-2d6a1e0f9b84"
    assert_problem(await client.get(f"{unknown}/results"), 404, "round_not_found")


def test_the_schemas_results_example_is_a_real_draw() -> None:
    """The OpenAPI example of the results (venues.api.round_examples) recomputes: clients may test against it."""
    example = next(item for item in round_examples() if isinstance(item, RoundResultsOut))
    assert verify(msgspec.to_builtins(example)).matches
    assert example.beacon_value is not None
