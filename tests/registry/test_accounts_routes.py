"""Sign-in, accounts and jurisdictions over HTTP."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from tests.builders import DONGCHENG_SQUARE, auth_headers
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, jurisdiction_code, make_account, make_jurisdiction

Client = httpx.AsyncClient


async def test_token_for_correct_password(client: Client, session: AsyncSession, settings: Settings) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    response = await client.post("/api/v1/auth/token", json={"username": account.username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "admin"
    assert body["expires_in"] == settings.auth.token_ttl_seconds
    claims = jwt.decode(body["access_token"], settings.auth.secret_key, algorithms=["HS256"], audience="flexreg-api")
    assert claims["sub"] == str(account.id)


async def test_token_refused_for_wrong_password_and_unknown_user(client: Client, session: AsyncSession) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    for username, password in ((account.username, "wrong password"), ("nobody_here", PASSWORD)):
        response = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert_problem(response, 401, "invalid_credentials")


def _forge(settings: Settings, **changes: Any) -> str:
    # Real time, not the settings' clock: token expiry is real-time security (core.auth checks time.time()).
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "6f1c1f9e-3f55-4a43-9a5f-0a4c3c3c9d11",
        "role": "admin",
        "iat": now,
        "exp": now + 600,
        "aud": settings.auth.audience,
        "iss": settings.auth.issuer,
    }
    algorithm = changes.pop("alg", "HS256")
    key = changes.pop("key", settings.auth.secret_key)
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm=algorithm)


async def test_bad_tokens_are_401(client: Client, settings: Settings) -> None:
    now = int(time.time())  # real time, as core.auth checks expiry
    tokens = {
        "expired": _forge(settings, exp=now - 120),
        "no exp": _forge(settings, exp=None),
        "no aud": _forge(settings, aud=None),
        "foreign aud": _forge(settings, aud="other-service"),
        "no iss": _forge(settings, iss=None),
        "wrong iss": _forge(settings, iss="someone-else"),
        "no sub": _forge(settings, sub=None),
        "no iat": _forge(settings, iat=None),
        "other algorithm": _forge(settings, alg="HS512"),
        "wrong key": _forge(settings, key=b"not-the-key-" * 4),
        "unknown role": _forge(settings, role="superuser"),
        "alg none": jwt.encode({"sub": "x", "role": "admin"}, None, algorithm="none"),
        "garbage": "not.a.token",
        "huge": "a" * 10_000,
    }
    for label, token in tokens.items():
        response = await client.post(
            "/api/v1/accounts",
            json={"username": "someone", "password": "long enough", "role": "admin"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"].startswith("Bearer"), label
    missing = await client.post("/api/v1/accounts", json={"username": "x", "password": "y", "role": "admin"})
    assert_problem(missing, 401, "not_authenticated")


async def test_admin_opens_staff_and_reviewer_accounts(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    jurisdiction = await make_jurisdiction(session)
    await session.commit()
    headers = auth_headers(settings, admin)
    staff = await client.post(
        "/api/v1/accounts",
        json={
            "username": "staff_one",
            "password": "long enough",
            "role": "street_office",
            "jurisdiction_code": jurisdiction.code,
        },
        headers=headers,
    )
    assert staff.status_code == 201, staff.text
    assert staff.headers["location"] == f"/api/v1/accounts/{staff.json()['id']}"
    assert staff.json()["jurisdiction_code"] == jurisdiction.code
    reviewer = await client.post(
        "/api/v1/accounts",
        json={
            "username": "reviewer_one",
            "password": "long enough",
            "role": "department",
            "department_code": "market_regulation",
        },
        headers=headers,
    )
    assert reviewer.status_code == 201, reviewer.text
    again = await client.post(
        "/api/v1/accounts",
        json={"username": "STAFF_ONE", "password": "long enough", "role": "admin"},
        headers=headers,
    )
    assert_problem(again, 409, "username_taken")


async def test_account_refusals(client: Client, session: AsyncSession, settings: Settings) -> None:
    admin = await make_account(session, "admin")
    vendor = await make_account(session, "vendor")
    await session.commit()
    body = {"username": "staff_two", "password": "long enough", "role": "street_office"}
    forbidden = await client.post("/api/v1/accounts", json=body, headers=auth_headers(settings, vendor))
    assert_problem(forbidden, 403, "forbidden")
    missing_scope = await client.post("/api/v1/accounts", json=body, headers=auth_headers(settings, admin))
    missing = assert_problem(missing_scope, 422, "validation_failed", fields=["jurisdiction_code"])
    assert missing["errors"][0]["message"] == "is required for street_office accounts"
    unknown_jurisdiction = await client.post(
        "/api/v1/accounts", json={**body, "jurisdiction_code": "999999999999"}, headers=auth_headers(settings, admin)
    )
    assert_problem(unknown_jurisdiction, 422, "validation_failed", fields=["jurisdiction_code"])
    unknown_department = await client.post(
        "/api/v1/accounts",
        json={"username": "rev_x", "password": "long enough", "role": "department", "department_code": "nope"},
        headers=auth_headers(settings, admin),
    )
    assert_problem(unknown_department, 422, "unknown_department", fields=["department_code"])
    assert "nope" not in unknown_department.text


async def test_street_office_must_be_bound_to_a_street_not_a_district(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    district = await make_jurisdiction(session, code=f"11{random.randint(10, 99)}{random.randint(10, 99)}000000")
    await session.commit()
    body = {"username": "district_staff", "password": "long enough", "role": "street_office"}
    response = await client.post(
        "/api/v1/accounts", json={**body, "jurisdiction_code": district.code}, headers=auth_headers(settings, admin)
    )
    assert_problem(response, 422, "validation_failed", fields=["jurisdiction_code"])


async def test_admin_reads_accounts_one_by_one_and_in_pages(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    jurisdiction = await make_jurisdiction(session)
    await session.commit()
    headers = auth_headers(settings, admin)
    created = []
    for i in range(3):
        response = await client.post(
            "/api/v1/accounts",
            json={
                "username": f"paged_staff_{i}",
                "password": "long enough",
                "role": "street_office",
                "jurisdiction_code": jurisdiction.code,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    # The Location of a new account resolves, and says the same as the creation did.
    one = await client.get(f"/api/v1/accounts/{created[0]['id']}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json() == created[0]
    assert "password" not in one.text
    assert "password_hash" not in one.json()
    missing = await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=headers)
    assert_problem(missing, 404, "account_not_found")

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"role": "street_office", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/accounts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert all(item["role"] == "street_office" for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # One transaction here gives the three the same created_at: the id breaks the tie, so compare as sets.
    assert len(seen) == len(set(seen))
    assert {item["id"] for item in created} <= set(seen)
    admins = await client.get("/api/v1/accounts", params={"role": "admin"}, headers=headers)
    assert str(admin.id) in {item["id"] for item in admins.json()["items"]}
    refused = await client.get("/api/v1/accounts", params={"role": "root"}, headers=headers)
    assert_problem(refused, 400, "invalid_parameter", fields=["role"])


async def test_only_admins_read_accounts(client: Client, session: AsyncSession, settings: Settings) -> None:
    jurisdiction = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    vendor = await make_account(session, "vendor")
    reviewer = await make_account(session, "department", department_code="market_regulation")
    await session.commit()
    for account in (staff, vendor, reviewer):
        headers = auth_headers(settings, account)
        for url in ("/api/v1/accounts", f"/api/v1/accounts/{account.id}"):
            assert_problem(await client.get(url, headers=headers), 403, "forbidden")
    assert_problem(await client.get("/api/v1/accounts"), 401, "not_authenticated")


async def test_jurisdictions_created_by_admin_and_listed_publicly(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    codes = sorted(jurisdiction_code() for _ in range(3))
    for code in codes:
        response = await client.post(
            "/api/v1/jurisdictions",
            json={"code": code, "name": f"Street {code}", "boundary": DONGCHENG_SQUARE},
            headers=auth_headers(settings, admin),
        )
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"/api/v1/jurisdictions/{code}"
    first = await client.get("/api/v1/jurisdictions", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = await client.get("/api/v1/jurisdictions", params={"limit": 2, "cursor": page["next_cursor"]})
    seen = [item["code"] for item in page["items"] + rest.json()["items"]]
    assert seen == codes
    one = await client.get(f"/api/v1/jurisdictions/{codes[0]}")
    assert one.json()["boundary"] == DONGCHENG_SQUARE
    assert_problem(await client.get("/api/v1/jurisdictions/000000000000"), 404, "jurisdiction_not_found")
    duplicate = await client.post(
        "/api/v1/jurisdictions",
        json={"code": codes[0], "name": "Again", "boundary": DONGCHENG_SQUARE},
        headers=auth_headers(settings, admin),
    )
    assert_problem(duplicate, 409, "jurisdiction_exists")


async def test_jurisdiction_refuses_bad_geometry_and_codes(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    headers = auth_headers(settings, admin)
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[116.40, 39.92], [116.42, 39.94], [116.42, 39.92], [116.40, 39.94], [116.40, 39.92]]],
    }
    unclosed = {
        "type": "Polygon",
        "coordinates": [[[116.40, 39.92], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94]]],
    }
    swapped = {
        "type": "Polygon",
        "coordinates": [[[39.92, 116.40], [39.92, 116.42], [39.94, 116.42], [39.94, 116.40], [39.92, 116.40]]],
    }
    line = {"type": "LineString", "coordinates": [[116.40, 39.92], [116.42, 39.92]]}
    cases = [
        ({"code": "12345", "name": "x", "boundary": DONGCHENG_SQUARE}, "code"),
        ({"code": jurisdiction_code(), "name": "x", "boundary": bow_tie}, "boundary"),
        ({"code": jurisdiction_code(), "name": "x", "boundary": unclosed}, "boundary.coordinates"),
        ({"code": jurisdiction_code(), "name": "x", "boundary": swapped}, "boundary.coordinates"),
        ({"code": jurisdiction_code(), "name": "x", "boundary": line}, "boundary"),
        ({"code": jurisdiction_code(), "name": "   ", "boundary": DONGCHENG_SQUARE}, "name"),
        ({"code": jurisdiction_code(), "name": "\u3000 ", "boundary": DONGCHENG_SQUARE}, "name"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/jurisdictions", json=body, headers=headers)
        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["field"].startswith(field), problem
    staff_headers = auth_headers(settings, await make_account(session, "vendor"))
    refused = await client.post(
        "/api/v1/jurisdictions",
        json={"code": jurisdiction_code(), "name": "x", "boundary": DONGCHENG_SQUARE},
        headers=staff_headers,
    )
    assert_problem(refused, 403, "forbidden")
