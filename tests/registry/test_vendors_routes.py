"""Vendor sign-up, reads in scope and the personal-data access log, over HTTP against PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.crypto import FieldCipher
from core.db import transaction
from core.settings import Settings
from registry import vendors as service
from registry.errors import VendorExists
from registry.models import Account, Jurisdiction, KeyGroupClaim, PersonalDataAccess, Vendor
from tests.builders import DONGCHENG_SQUARE, auth_headers, id_number
from tests.clock import city_time
from tests.problems import assert_problem
from tests.registry.builders import (
    PASSWORD,
    jurisdiction_code,
    make_account,
    make_jurisdiction,
    make_vendor,
    vendor_headers,
)

Client = httpx.AsyncClient
URL = "/api/v1/vendors"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c in "Xx" else c for c in text)


def sign_up(jurisdiction: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "username": f"v_{uuid.uuid4().hex[:10]}",
        "password": PASSWORD,
        "name": "张三",
        "id_number": id_number(),
        "phone": "13812341234",
        "residence_jurisdiction": jurisdiction,
    }
    body.update(overrides)
    return body


async def account_count(session: AsyncSession, username: str) -> int:
    query = select(func.count()).select_from(Account).where(func.lower(Account.username) == username.lower())
    return int(await session.scalar(query) or 0)


async def access_rows(session: AsyncSession, vendor_id: uuid.UUID) -> list[PersonalDataAccess]:
    query = select(PersonalDataAccess).where(PersonalDataAccess.vendor_id == vendor_id).order_by(PersonalDataAccess.id)
    return list((await session.scalars(query)).all())


@pytest.fixture
async def home(session: AsyncSession) -> Jurisdiction:
    jurisdiction = await make_jurisdiction(session)
    await session.commit()
    return jurisdiction


# --- sign-up -------------------------------------------------------------------------------------------------


async def test_sign_up_returns_masked_profile_and_location(client: Client, home: Jurisdiction) -> None:
    body = sign_up(home.code, id_number="110101199001011237")
    response = await client.post(URL, json=body)
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["id_number_masked"] == "110101********1237"
    assert out["phone_masked"] == "138****1234"
    assert out["name"] == "张三"
    assert out["residence_jurisdiction"] == home.code
    assert out["key_groups"] == []
    assert "created_at" in out
    assert response.headers["location"] == f"{URL}/{out['id']}"
    assert "110101199001011237" not in response.text
    assert "13812341234" not in response.text
    assert not set(out) & {"id_number", "phone", "password", "birth_on"}


async def test_signed_up_vendor_signs_in_and_reads_me(client: Client, home: Jurisdiction) -> None:
    body = sign_up(home.code)
    created = (await client.post(URL, json=body)).json()
    token = await client.post("/api/v1/auth/token", json={"username": body["username"], "password": PASSWORD})
    assert token.json()["role"] == "vendor"
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = await client.get(f"{URL}/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == created["id"]
    own = await client.get(f"{URL}/{created['id']}", headers=headers)
    assert own.status_code == 200
    assert own.json()["name"] == "张三"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110101199001011238", "invalid_check_digit"),
        ("440308199002301238", "invalid_birth_date"),  # Feb 30
        ("440308209912311239", "invalid_birth_date"),  # 2099
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "invalid_format"),
        ("110105491231002", "legacy_15_digit"),
    ],
)
async def test_sign_up_refuses_bad_id_numbers_without_echoing_them(
    client: Client, session: AsyncSession, home: Jurisdiction, raw: str, reason: str
) -> None:
    body = sign_up(home.code, id_number=raw)
    response = await client.post(URL, json=body)
    problem = assert_problem(response, 422, "invalid_id_number", fields=["id_number"])
    assert problem["reason"] == reason
    assert raw.strip() not in response.text
    assert await account_count(session, body["username"]) == 0


async def test_sign_up_refuses_a_birth_date_tomorrow_in_the_city(
    client: Client, home: Jurisdiction, settings: Settings
) -> None:
    tomorrow = settings.today() + dt.timedelta(days=1)
    response = await client.post(URL, json=sign_up(home.code, id_number=id_number(tomorrow)))
    assert assert_problem(response, 422, "invalid_id_number")["reason"] == "invalid_birth_date"


async def test_lowercase_x_is_accepted_and_stored_upper_case(
    client: Client, session: AsyncSession, home: Jurisdiction, settings: Settings
) -> None:
    response = await client.post(URL, json=sign_up(home.code, id_number="11010519491231002x"))
    assert response.status_code == 201, response.text
    assert response.json()["id_number_masked"] == "110105********002X"
    vendor = await session.get(Vendor, uuid.UUID(response.json()["id"]))
    assert vendor is not None
    cipher = FieldCipher(settings.data.data_key)
    assert cipher.decrypt(vendor.id_number_encrypted, context=service.ID_NUMBER_CONTEXT) == "11010519491231002X"
    assert vendor.birth_on == dt.date(1949, 12, 31)
    assert vendor.sex == "female"


async def test_same_person_twice_in_any_spelling_is_409_and_leaves_no_account(
    client: Client, session: AsyncSession, home: Jurisdiction
) -> None:
    first = await client.post(URL, json=sign_up(home.code, id_number="11010519491231002X"))
    assert first.status_code == 201, first.text
    for variant in ("11010519491231002X", "11010519491231002x", fullwidth("11010519491231002X")):
        body = sign_up(home.code, id_number=variant)
        response = await client.post(URL, json=body)
        assert_problem(response, 409, "vendor_exists")
        assert "11010519491231002" not in response.text
        assert await account_count(session, body["username"]) == 0


async def test_username_taken_is_409(client: Client, session: AsyncSession, home: Jurisdiction) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    response = await client.post(URL, json=sign_up(home.code, username=account.username))
    assert_problem(response, 409, "username_taken")


async def test_reusing_a_username_reveals_nothing_about_an_id_number(
    client: Client, session: AsyncSession, home: Jurisdiction
) -> None:
    """Username first: an attacker reusing a taken username learns nothing about whether an ID is registered.

    (With a fresh username, the same person twice is still 409 `vendor_exists`, as API.md requires.)
    """
    registered = sign_up(home.code)
    assert (await client.post(URL, json=registered)).status_code == 201
    other = await make_account(session, "admin")
    await session.commit()
    for number in (registered["id_number"], id_number()):
        response = await client.post(URL, json=sign_up(home.code, username=other.username, id_number=number))
        assert_problem(response, 409, "username_taken")


async def test_district_level_residence_is_422(client: Client, session: AsyncSession) -> None:
    """No street office serves a whole district (…000000): a resident lives in a street or township."""
    district = await make_jurisdiction(session, code=f"11{random.randint(10, 99)}{random.randint(10, 99)}000000")
    await session.commit()
    body = sign_up(district.code)
    assert_problem(await client.post(URL, json=body), 422, "validation_failed", fields=["residence_jurisdiction"])
    assert await account_count(session, body["username"]) == 0


async def test_sign_up_authorization_matrix(client: Client, session: AsyncSession, settings: Settings) -> None:
    """RELIABILITY.md §5 row 1: anonymous 201, vendor 409, staff 201 for its residents and 422 otherwise, others 403."""
    j1 = await make_jurisdiction(session)
    j2 = await make_jurisdiction(session, code=jurisdiction_code())
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=j1.code)
    staff_j1 = await make_account(session, "street_office", jurisdiction_code=j1.code)
    reviewer = await make_account(session, "department", department_code="market_regulation")
    admin = await make_account(session, "admin")
    await session.commit()

    anonymous = await client.post(URL, json=sign_up(j1.code))
    assert anonymous.status_code == 201, anonymous.text

    body = sign_up(j1.code)
    response = await client.post(URL, json=body, headers=vendor_headers(settings, vendor))
    assert_problem(response, 409, "already_registered")
    assert await account_count(session, body["username"]) == 0

    on_behalf = await client.post(URL, json=sign_up(j1.code), headers=auth_headers(settings, staff_j1))
    assert on_behalf.status_code == 201, on_behalf.text
    assert on_behalf.json()["residence_jurisdiction"] == j1.code

    body = sign_up(j2.code)
    response = await client.post(URL, json=body, headers=auth_headers(settings, staff_j1))
    assert_problem(response, 422, "outside_jurisdiction", fields=["residence_jurisdiction"])
    assert await account_count(session, body["username"]) == 0

    for account in (reviewer, admin):
        body = sign_up(j1.code)
        assert_problem(await client.post(URL, json=body, headers=auth_headers(settings, account)), 403, "forbidden")
        assert await account_count(session, body["username"]) == 0

    response = await client.post(URL, json=sign_up(j1.code), headers={"Authorization": "Bearer not-a-token"})
    assert_problem(response, 401, "not_authenticated")


async def test_unknown_residence_jurisdiction_is_422_and_leaves_no_account(
    client: Client, session: AsyncSession
) -> None:
    body = sign_up("999999999999")
    response = await client.post(URL, json=body)
    assert_problem(response, 422, "validation_failed", fields=["residence_jurisdiction"])
    assert await account_count(session, body["username"]) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"id_number": 110101199001011237}, "id_number"),
        ({"name": ["张三"]}, "name"),
        ({"phone": 13812341234}, "phone"),
        ({"residence_jurisdiction": 110101001001}, "residence_jurisdiction"),
    ],
)
async def test_unknown_fields_and_wrong_types_are_422(
    client: Client, session: AsyncSession, home: Jurisdiction, overrides: dict[str, Any], field: str
) -> None:
    body = sign_up(home.code, **overrides)
    response = await client.post(URL, json=body)
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"] == field
    assert "110101199001011237" not in response.text
    assert await account_count(session, body["username"]) == 0


async def test_missing_field_is_422(client: Client, home: Jurisdiction) -> None:
    body = sign_up(home.code)
    del body["id_number"]
    problem = assert_problem(await client.post(URL, json=body), 422, "validation_failed")
    assert problem["errors"][0]["field"] == "id_number"


@pytest.mark.parametrize(
    ("overrides", "code", "reason"),
    [
        ({"name": "\u3000 "}, "invalid_name", "required"),
        ({"name": "人" * 51}, "invalid_name", "too_long"),
        ({"phone": "12345"}, "invalid_phone", "invalid_format"),
    ],
)
async def test_bad_names_and_phones_are_422(
    client: Client, home: Jurisdiction, overrides: dict[str, Any], code: str, reason: str
) -> None:
    problem = assert_problem(await client.post(URL, json=sign_up(home.code, **overrides)), 422, code)
    assert problem["reason"] == reason


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id_number": "11010519491231002X\n"}, "id_number"),
        ({"name": "张\u202e三"}, "name"),
        ({"name": "张\n三"}, "name"),
    ],
)
async def test_control_and_bidi_characters_are_422_naming_the_field(
    client: Client, session: AsyncSession, home: Jurisdiction, overrides: dict[str, Any], field: str
) -> None:
    """Refused for every JSON body by the request guard (core), before the registry's own rules."""
    body = sign_up(home.code, **overrides)
    response = await client.post(URL, json=body)
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert "11010519491231002X" not in response.text
    assert await account_count(session, body["username"]) == 0


async def test_names_and_phones_are_normalised(client: Client, home: Jurisdiction) -> None:
    body = sign_up(home.code, name="\u3000阿依古丽・买买提 ", phone="+86１３９１２３４５６７８")
    response = await client.post(URL, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "阿依古丽·买买提"
    assert response.json()["phone_masked"] == "139****5678"


async def test_raw_vendor_row_holds_no_plaintext_id_or_phone(
    client: Client, session: AsyncSession, home: Jurisdiction
) -> None:
    number, phone = "110101199001011237", "13812341234"
    response = await client.post(URL, json=sign_up(home.code, id_number=number, phone=phone))
    assert response.status_code == 201
    row = (
        await session.execute(
            text("SELECT * FROM registry_vendor WHERE id = :id"), {"id": uuid.UUID(response.json()["id"])}
        )
    ).one()
    for value in row:
        as_bytes = value if isinstance(value, bytes) else str(value).encode()
        assert number.encode() not in as_bytes
        assert phone.encode() not in as_bytes
        assert number.encode().hex().encode() not in as_bytes
    mapping = row._mapping
    assert len(mapping["id_number_hmac"]) == 32  # HMAC-SHA-256
    assert mapping["id_number_masked"] == "110101********1237"
    dump = await session.scalar(
        text("SELECT row_to_json(v)::text FROM registry_vendor v WHERE id = :id"), {"id": row.id}
    )
    assert number not in str(dump)
    assert phone not in str(dump)


async def test_sign_up_with_a_concurrent_duplicate_rolls_back_the_loser(
    client: Client, session: AsyncSession, home: Jurisdiction, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique constraint catches what the up-front check missed; the account row goes with it."""
    await client.post(URL, json=sign_up(home.code, id_number="110101199001011237"))

    async def not_yet(session: AsyncSession, lookup: bytes) -> bool:
        return False  # as if the other sign-up had not committed when this one checked

    monkeypatch.setattr(service, "_already_registered", not_yet)
    body = sign_up(home.code, id_number="110101199001011237")
    response = await client.post(URL, json=body)
    assert_problem(response, 409, "vendor_exists")
    assert await account_count(session, body["username"]) == 0


@pytest.mark.concurrency
async def test_concurrent_sign_ups_of_one_person_exactly_one_wins(engine: AsyncEngine, settings: Settings) -> None:
    """Separate committed transactions, outside the rollback fixture; cleanup in finally."""
    maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    cipher = FieldCipher(settings.data.data_key)
    code = jurisdiction_code()
    number = id_number()
    usernames = [f"race_{uuid.uuid4().hex[:10]}" for _ in range(4)]
    async with transaction(maker) as setup:
        setup.add(
            Jurisdiction(
                code=code, name="Race office", boundary=DONGCHENG_SQUARE, min_lon=0, min_lat=0, max_lon=1, max_lat=1
            )
        )

    async def attempt(username: str) -> str:
        try:
            async with transaction(maker) as session:
                await service.register_vendor(
                    session,
                    cipher,
                    username=username,
                    password=PASSWORD,
                    name="张三",
                    id_number=number,
                    phone="13812341234",
                    residence_jurisdiction=code,
                    today=settings.today(),
                )
        except VendorExists:
            return "exists"
        return "created"

    try:
        outcomes = await asyncio.gather(*(attempt(u) for u in usernames))
        assert sorted(outcomes) == ["created", "exists", "exists", "exists"]
        async with maker() as check:
            accounts = await check.scalar(
                select(func.count()).select_from(Account).where(Account.username.in_(usernames))
            )
            assert accounts == 1
    finally:
        async with transaction(maker) as cleanup:
            vendor_accounts = select(Vendor.account_id).where(Vendor.residence_jurisdiction_code == code)
            account_ids = list((await cleanup.scalars(vendor_accounts)).all())
            await cleanup.execute(delete(Vendor).where(Vendor.residence_jurisdiction_code == code))
            await cleanup.execute(delete(Account).where(Account.id.in_(account_ids) | Account.username.in_(usernames)))
            await cleanup.execute(delete(Jurisdiction).where(Jurisdiction.code == code))


# --- reads in scope ------------------------------------------------------------------------------------------


World = SimpleNamespace  # the principals and records one test's scenario needs


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    j1 = await make_jurisdiction(session)
    j2 = await make_jurisdiction(session, code=jurisdiction_code())
    vendor_a = await make_vendor(session, settings, residence_jurisdiction_code=j1.code, name="甲乙")
    vendor_b = await make_vendor(session, settings, residence_jurisdiction_code=j1.code, name="欧阳娜娜")
    vendor_c = await make_vendor(session, settings, residence_jurisdiction_code=j2.code)
    staff_j1 = await make_account(session, "street_office", jurisdiction_code=j1.code)
    staff_j2 = await make_account(session, "street_office", jurisdiction_code=j2.code)
    reviewer = await make_account(session, "department", department_code="market_regulation")
    admin = await make_account(session, "admin")
    bare_vendor = await make_account(session, "vendor")
    await session.commit()

    return World(
        j1=j1,
        j2=j2,
        a=vendor_a,
        b=vendor_b,
        c=vendor_c,
        as_a=vendor_headers(settings, vendor_a),
        staff_j1=staff_j1,
        as_staff_j1=auth_headers(settings, staff_j1),
        as_staff_j2=auth_headers(settings, staff_j2),
        as_reviewer=auth_headers(settings, reviewer),
        as_admin=auth_headers(settings, admin),
        as_bare_vendor=auth_headers(settings, bare_vendor),
    )


async def test_get_vendor_authorization_matrix(client: Client, session: AsyncSession, world: World) -> None:
    a_url = f"{URL}/{world.a.id}"
    assert (await client.get(a_url, headers=world.as_a)).status_code == 200
    assert_problem(await client.get(f"{URL}/{world.b.id}", headers=world.as_a), 404, "vendor_not_found")
    assert_problem(await client.get(a_url, headers=world.as_staff_j2), 404, "vendor_not_found")
    assert_problem(await client.get(a_url, headers=world.as_reviewer), 403, "forbidden")
    assert_problem(await client.get(a_url), 401, "not_authenticated")
    assert_problem(await client.get(f"{URL}/{uuid.uuid4()}", headers=world.as_admin), 404, "vendor_not_found")
    for headers in (world.as_staff_j1, world.as_admin):
        response = await client.get(a_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "甲乙"
        assert body["id_number_masked"] == world.a.id_number_masked
        assert body["phone_masked"] == world.a.phone_masked


async def test_each_staff_read_appends_an_access_log_row(client: Client, session: AsyncSession, world: World) -> None:
    a_url = f"{URL}/{world.a.id}"
    await client.get(a_url, headers=world.as_a)  # the vendor's own read is not logged
    assert await access_rows(session, world.a.id) == []
    await client.get(a_url, headers=world.as_staff_j1)
    await client.get(a_url, headers=world.as_staff_j1, params={"purpose": "case 2025-0042"})
    await client.get(a_url, headers=world.as_admin)
    await client.get(a_url, headers=world.as_staff_j2)  # refused: nothing read, nothing logged
    rows = await access_rows(session, world.a.id)
    assert [(r.role, r.purpose) for r in rows] == [
        ("street_office", "case_handling"),
        ("street_office", "case 2025-0042"),
        ("admin", "case_handling"),
    ]
    assert rows[0].account_id == world.staff_j1.id
    assert rows[0].fields == ["name", "id_number_masked", "phone_masked"]
    assert rows[0].request_path == a_url


async def test_purpose_is_bounded(client: Client, world: World) -> None:
    response = await client.get(f"{URL}/{world.a.id}", headers=world.as_staff_j1, params={"purpose": "x" * 201})
    assert_problem(response, 400, "invalid_parameter", fields=["purpose"])


async def test_me_needs_a_vendor_profile(client: Client, world: World) -> None:
    response = await client.get(f"{URL}/me", headers=world.as_a)
    assert response.status_code == 200
    assert response.json()["id"] == str(world.a.id)
    assert_problem(await client.get(f"{URL}/me", headers=world.as_bare_vendor), 404, "vendor_not_found")
    assert_problem(await client.get(f"{URL}/me", headers=world.as_staff_j1), 403, "forbidden")
    assert_problem(await client.get(f"{URL}/me"), 401, "not_authenticated")


async def test_list_vendors_is_scoped_paginated_and_logged(client: Client, session: AsyncSession, world: World) -> None:
    first = await client.get(URL, headers=world.as_staff_j1, params={"limit": 1})
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 1
    assert first.json()["next_cursor"]
    second = await client.get(
        URL, headers=world.as_staff_j1, params={"limit": 1, "cursor": first.json()["next_cursor"]}
    )
    assert second.json()["next_cursor"] is None
    seen = {item["id"] for item in first.json()["items"] + second.json()["items"]}
    assert seen == {str(world.a.id), str(world.b.id)}
    assert "phone_masked" not in first.json()["items"][0]
    for vendor in (world.a, world.b):
        rows = await access_rows(session, vendor.id)
        assert [(r.role, r.fields) for r in rows] == [("street_office", ["name", "id_number_masked"])]
    assert await access_rows(session, world.c.id) == []

    everyone = await client.get(URL, headers=world.as_admin)
    ids = {item["id"] for item in everyone.json()["items"]}
    assert {str(world.a.id), str(world.b.id), str(world.c.id)} <= ids

    assert_problem(await client.get(URL, headers=world.as_a), 403, "forbidden")
    assert_problem(await client.get(URL, headers=world.as_reviewer), 403, "forbidden")
    assert_problem(
        await client.get(URL, headers=world.as_staff_j1, params={"cursor": "garbage"}), 400, "invalid_parameter"
    )


async def test_key_groups_are_the_verified_unexpired_claims(
    client: Client, session: AsyncSession, world: World, settings: Settings
) -> None:
    today = settings.today()
    claims = [
        ("college_graduate", "verified", today),  # valid through today
        ("migrant_worker", "verified", today - dt.timedelta(days=1)),  # expired
        ("laid_off_unemployed", "pending", None),
        ("employment_difficulty", "rejected", None),
    ]
    for group, status, valid_until in claims:
        session.add(
            KeyGroupClaim(
                vendor_id=world.a.id,
                jurisdiction_code=world.j1.code,
                key_group=group,
                details={},
                status=status,
                valid_until=valid_until,
                submitted_by=world.a.account_id,
            )
        )
    await session.commit()
    response = await client.get(f"{URL}/{world.a.id}", headers=world.as_a)
    assert response.json()["key_groups"] == ["college_graduate"]
    listed = await client.get(URL, headers=world.as_staff_j1)
    by_id = {item["id"]: item["key_groups"] for item in listed.json()["items"]}
    assert by_id == {str(world.a.id): ["college_graduate"], str(world.b.id): []}


async def test_a_key_group_lapses_at_midnight_in_the_city_not_in_utc(
    client: Client, session: AsyncSession, world: World, clock: FixedClock
) -> None:
    """valid_until is a date in the city: it counts through 23:59 there, and not at 00:30 the next day."""
    session.add(
        KeyGroupClaim(
            vendor_id=world.a.id,
            jurisdiction_code=world.j1.code,
            key_group="college_graduate",
            details={},
            status="verified",
            valid_until=dt.date(2026, 6, 30),
            submitted_by=world.a.account_id,
        )
    )
    await session.commit()
    clock.set(city_time(2026, 6, 30, 23, 30))
    assert (await client.get(f"{URL}/{world.a.id}", headers=world.as_a)).json()["key_groups"] == ["college_graduate"]
    clock.advance(dt.timedelta(hours=1))
    assert clock.now().date() == dt.date(2026, 6, 30)  # still 30 June in UTC
    assert (await client.get(f"{URL}/{world.a.id}", headers=world.as_a)).json()["key_groups"] == []
