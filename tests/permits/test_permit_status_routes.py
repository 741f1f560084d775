"""POST /permits/{number}/status: suspension, revocation and reinstatement on a cited ground, and the signed
revocation list an offline scanner keeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from typing import Any, get_args

import httpx
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.clock import FixedClock
from core.db import create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from permits.issued_models import PermitStatusChange
from permits.revocations import GROUNDS, REVOCATIONS_TYP, GroundCode
from registry.models import Account
from tests.builders import auth_headers, id_number
from tests.clock import city_time
from tests.conftest import migrated_database
from tests.permits.issued_builders import Issued, component, make_holder, make_permit
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction, vendor_headers

pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")

REASON = "2026年7月3日检查发现超出许可摊位范围经营，\n责令改正期间暂扣。"


async def _department(session: AsyncSession, code: str) -> Account:
    return await make_account(session, "department", department_code=code)


def _url(issued: Issued) -> str:
    return f"/api/v1/permits/{issued.permit.number}/status"


def _as(settings: Settings, account: Account, version: int | None = 1) -> dict[str, str]:
    headers = auth_headers(settings, account)
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return headers


async def _change(
    client: httpx.AsyncClient,
    settings: Settings,
    account: Account,
    issued: Issued,
    version: int | None = 1,
    **body: Any,
) -> httpx.Response:
    return await client.post(_url(issued), json=body, headers=_as(settings, account, version))


async def test_the_issuing_department_suspends_on_a_ground_and_everyone_sees_it(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings, components=[component(), component("health", "health_certificate")])
    market = await _department(session, "market_regulation")
    await session.commit()
    answer = await _change(client, settings, market, issued, status="suspended", ground="penalty", reason=REASON)
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"2"'
    body = (await client.get(f"/api/v1/permits/{issued.permit.number}")).json()
    assert body["status"] == "suspended"
    assert body["version"] == 2
    by_department = {c["department"]: c for c in body["components"]}
    assert by_department["health"]["status"] == "valid"
    suspended = by_department["market_regulation"]
    assert suspended["status"] == "suspended"
    assert suspended["ground"] == "penalty"
    assert suspended["ground_citation"] == GROUNDS["penalty"].citation
    assert suspended["reason"] == REASON  # line breaks kept
    assert suspended["status_changed_at"] is not None
    recorded = await session.scalar(
        select(func.count()).where(PermitStatusChange.permit_number == issued.permit.number)
    )
    assert recorded == 1


async def test_another_department_gets_404_before_if_match(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    fire = await _department(session, "fire_rescue")
    market = await _department(session, "market_regulation")
    await session.commit()
    for version in (None, 1, 7):
        answer = await _change(
            client, settings, fire, issued, version=version, status="suspended", ground="penalty", reason=REASON
        )
        assert_problem(answer, 404, "permit_not_found")
    # Naming another department's component does not reach it either.
    answer = await _change(
        client, settings, market, issued, status="revoked", ground="annulment", reason=REASON, department="health"
    )
    assert_problem(answer, 404, "permit_not_found")


async def test_vendors_and_street_offices_are_refused(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    place = await make_jurisdiction(session)
    office = await make_account(session, "street_office", jurisdiction_code=place.code)
    await session.commit()
    body = {"status": "suspended", "ground": "penalty", "reason": REASON}
    for headers in (vendor_headers(settings, issued.vendor), auth_headers(settings, office)):
        answer = await client.post(_url(issued), json=body, headers={**headers, "If-Match": '"1"'})
        assert_problem(answer, 403, "forbidden")
    assert_problem(await client.post(_url(issued), json=body), 401, "not_authenticated")


async def test_if_match_is_required_and_must_be_current(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    market = await _department(session, "market_regulation")
    await session.commit()
    body = {"status": "suspended", "ground": "penalty", "reason": REASON}
    assert_problem(await _change(client, settings, market, issued, None, **body), 428, "precondition_required")
    stale = await _change(client, settings, market, issued, 2, **body)
    assert_problem(stale, 412, "precondition_failed")
    assert stale.headers["etag"] == '"1"'
    assert (await _change(client, settings, market, issued, 1, **body)).status_code == 200
    reinstated = await _change(client, settings, market, issued, 1, status="valid", reason="已改正")
    assert_problem(reinstated, 412, "precondition_failed")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "suspended", "reason": REASON}, "ground"),
        ({"status": "revoked", "reason": REASON}, "ground"),
        ({"status": "suspended", "ground": "annulment", "reason": REASON}, "ground"),
        ({"status": "suspended", "ground": "road_authority", "reason": REASON}, "ground"),
        ({"status": "revoked", "ground": "withdrawal", "reason": REASON}, "compensation"),
        ({"status": "revoked", "ground": "annulment", "reason": REASON, "compensation": "补偿"}, "compensation"),
        ({"status": "valid", "ground": "penalty", "reason": REASON}, "ground"),
    ],
)
async def test_a_ground_that_does_not_fit_is_refused_naming_the_field(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    issued = await make_permit(session, settings)
    market = await _department(session, "market_regulation")
    await session.commit()
    answer = await client.post(_url(issued), json=body, headers=_as(settings, market))
    assert_problem(answer, 422, "validation_failed", fields=[field])
    assert (await client.get(f"/api/v1/permits/{issued.permit.number}")).json()["status"] == "valid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "suspended", "ground": "penalty"}, "reason"),
        ({"status": "suspended", "ground": "penalty", "reason": ""}, "reason"),
        ({"status": "paused", "ground": "penalty", "reason": REASON}, "status"),
        ({"status": "suspended", "ground": "whim", "reason": REASON}, "ground"),
        ({"status": "suspended", "ground": "penalty", "reason": REASON, "until": "2026-07-01"}, "until"),
        ({"status": "suspended", "ground": "penalty", "reason": REASON, "department": "moon"}, "department"),
    ],
)
async def test_bodies_off_the_schema_are_refused_naming_the_field(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    issued = await make_permit(session, settings)
    market = await _department(session, "market_regulation")
    await session.commit()
    answer = await client.post(_url(issued), json=body, headers=_as(settings, market))
    assert_problem(answer, 422, "validation_failed", fields=[field])
    assert (await client.get(f"/api/v1/permits/{issued.permit.number}")).json()["version"] == 1


async def test_transitions_follow_the_status_and_revoked_is_final(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    market = await _department(session, "market_regulation")
    await session.commit()
    assert (await _change(client, settings, market, issued, 1, status="valid", reason="x")).status_code == 409
    again = {"status": "suspended", "ground": "penalty", "reason": REASON}
    assert (await _change(client, settings, market, issued, 1, **again)).status_code == 200
    conflict = assert_problem(
        await _change(client, settings, market, issued, 2, **again), 409, "permit_status_conflict"
    )
    assert conflict["allowed_transitions"] == ["valid", "revoked"]
    assert conflict["current_status"] == "suspended"
    assert (await _change(client, settings, market, issued, 2, status="valid", reason="已改正")).status_code == 200
    revoke = {
        "status": "revoked",
        "ground": "withdrawal",
        "reason": "规划调整",
        "compensation": "退还剩余期限费用并补偿搬迁损失",
    }
    revoked = await _change(client, settings, market, issued, 3, **revoke)
    assert revoked.status_code == 200
    assert revoked.json()["components"][0]["compensation"] == revoke["compensation"]
    final = assert_problem(
        await _change(client, settings, market, issued, 4, status="valid", reason="x"), 409, "permit_status_conflict"
    )
    assert final["allowed_transitions"] == []
    changes = await session.scalars(
        select(PermitStatusChange.to_status)
        .where(PermitStatusChange.permit_number == issued.permit.number)
        .order_by(PermitStatusChange.decided_at, PermitStatusChange.recorded_at)
    )
    assert sorted(changes) == sorted(["suspended", "valid", "revoked"])


async def test_an_expired_permit_can_only_be_deregistered(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    issued = await make_permit(session, settings, valid_to=dt.date(2026, 6, 30))
    market = await _department(session, "market_regulation")
    await session.commit()
    clock.set(city_time(2026, 7, 2))
    suspend = await _change(client, settings, market, issued, status="suspended", ground="penalty", reason=REASON)
    assert assert_problem(suspend, 409, "permit_status_conflict")["allowed_transitions"] == ["revoked"]
    deregister = await _change(
        client, settings, market, issued, status="revoked", ground="deregistration", reason="有效期届满未延续"
    )
    assert deregister.status_code == 200
    assert deregister.json()["status"] == "revoked"


async def test_road_authority_recalls_a_road_occupation(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    road = component("urban_management", "road_occupancy")
    police = component("traffic_police", "road_occupancy")
    issued = await make_permit(session, settings, components=[road, police])
    urban = await _department(session, "urban_management")
    await session.commit()
    answer = await _change(
        client, settings, urban, issued, status="suspended", ground="road_authority", reason="道路维修"
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "suspended"


async def test_an_admin_changes_every_component_or_the_named_departments(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings, components=[component(), component("health", "health_certificate")])
    admin = await make_account(session, "admin")
    await session.commit()
    missing = await _change(
        client, settings, admin, issued, status="revoked", ground="annulment", reason=REASON, department="tobacco"
    )
    assert_problem(missing, 422, "validation_failed", fields=["department"])
    one = await _change(
        client, settings, admin, issued, status="suspended", ground="penalty", reason=REASON, department="health"
    )
    assert [c["status"] for c in one.json()["components"]] == ["suspended", "valid"]
    every = await _change(
        client, settings, admin, issued, 2, status="revoked", ground="annulment", reason="以欺骗手段取得"
    )
    assert [c["status"] for c in every.json()["components"]] == ["revoked", "revoked"]


async def test_the_revocation_list_is_signed_and_lists_what_is_not_valid(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    suspended = await make_permit(session, settings)
    untouched = await make_permit(session, settings, vendor=await make_holder(session, settings, id_number=id_number()))
    market = await _department(session, "market_regulation")
    await session.commit()
    assert (
        await _change(client, settings, market, suspended, status="suspended", ground="penalty", reason=REASON)
    ).status_code == 200
    clock.advance(dt.timedelta(hours=1))
    answer = await client.get("/api/v1/permit-revocations")
    assert answer.status_code == 200
    assert "public" in answer.headers["cache-control"]
    body = answer.json()
    listed = {entry["number"]: entry for entry in body["revoked"]}
    assert untouched.permit.number not in listed
    assert listed[suspended.permit.number]["status"] == "suspended"
    assert listed[suspended.permit.number]["ground"] == "penalty"
    # A scanner checks it with the published keys alone: "valid as of iat".
    keys = KeySet.import_key_set((await client.get("/api/v1/permit-signing-keys")).json())
    decoded = jose_jwt.decode(body["token"], keys, algorithms=["EdDSA"])
    assert decoded.header["typ"] == REVOCATIONS_TYP
    assert decoded.claims["iat"] == int(clock.now().timestamp())
    assert decoded.claims["iss"] == settings.http.public_url
    assert [entry["number"] for entry in decoded.claims["revoked"]] == [entry["number"] for entry in body["revoked"]]
    assert (await _change(client, settings, market, suspended, 2, status="valid", reason="已改正")).status_code == 200
    numbers = [entry["number"] for entry in (await client.get("/api/v1/permit-revocations")).json()["revoked"]]
    assert suspended.permit.number not in numbers


# --- two officers, one ETag ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def committing_url(server_url: str) -> AsyncIterator[str]:
    name = f"flexreg_permit_status_race_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.mark.concurrency
async def test_officers_sending_the_same_etag_have_one_winner(committing_url: str, settings: Settings) -> None:
    engine = create_async_engine(sqlalchemy_url(committing_url), poolclass=NullPool)
    makers: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
    try:
        async with transaction(makers) as session:
            issued = await make_permit(session, settings)
            officers = [await _department(session, "market_regulation") for _ in range(10)]
        app = create_app(settings, sessionmaker=makers)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            body = {"status": "suspended", "ground": "penalty", "reason": REASON}
            answers = await asyncio.gather(
                *(client.post(_url(issued), json=body, headers=_as(settings, officer)) for officer in officers)
            )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [412] * 9, [answer.text for answer in answers if answer.status_code >= 500]
        async with makers() as session:
            count = select(func.count()).where(PermitStatusChange.permit_number == issued.permit.number)
            assert await session.scalar(count) == 1
    finally:
        await engine.dispose()


def test_every_ground_code_has_its_citation_and_statuses() -> None:
    assert set(GROUNDS) == set(get_args(GroundCode))
    for ground in GROUNDS.values():
        assert ground.citation.startswith("《")
        assert ground.statuses
