"""Hostile and malformed requests get a clear problem document and change nothing (RELIABILITY.md §2, §4)."""

from __future__ import annotations

import re

import httpx
import pytest
from litestar import Litestar, get
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Jurisdiction
from tests.builders import DONGCHENG_SQUARE, auth_headers
from tests.problems import assert_problem
from tests.registry.builders import jurisdiction_code, make_account

JSON = {"content-type": "application/json"}
TOKEN = "/api/v1/auth/token"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"<xml/>", "malformed_json"),
        (b'{"username": "\xff", "password": "x"}', "malformed_json"),
        (b"[" * 5000 + b"]" * 5000, "malformed_json"),
        (b'{"username": "a", "password": NaN}', "malformed_json"),
        (b'{"username": "a", "password": Infinity}', "malformed_json"),
        (b'{"username": "a", "password": "b"} x', "malformed_json"),
        (b"", "malformed_json"),
        (b'\xef\xbb\xbf{"username": "a", "password": "b"}', "malformed_json"),
    ],
    ids=["xml", "invalid-utf8", "deep-nesting", "nan", "infinity", "trailing-garbage", "empty", "bom"],
)
async def test_unreadable_json_is_400(client: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await client.post(TOKEN, content=body, headers=JSON)
    assert_problem(response, 400, code)


async def test_deep_nesting_inside_a_typed_field_is_400(client: httpx.AsyncClient) -> None:
    nested = b"[" * 5000 + b"]" * 5000
    response = await client.post(TOKEN, content=b'{"username": ' + nested + b', "password": "x"}', headers=JSON)
    assert_problem(response, 400, "malformed_json")


async def test_json_as_text_plain_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        TOKEN, content=b'{"username": "a", "password": "b"}', headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported_media_type")


async def test_oversize_body_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    body = b'{"username": "' + b"a" * (settings.http.max_body_bytes + 1) + b'", "password": "b"}'
    assert_problem(await client.post(TOKEN, content=body, headers=JSON), 413, "body_too_large")
    ten_mb = b'{"username": "' + b"a" * 10_000_000 + b'", "password": "b"}'
    assert_problem(await client.post(TOKEN, content=ten_mb, headers=JSON), 413, "body_too_large")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "a", "password": "b", "role": "admin"}, "role"),
        ({"username": 1, "password": "b"}, "username"),
        ({"username": "a"}, "password"),
        ({"username": "a\u0000b", "password": "b"}, "username"),
        ({"username": "a", "password": "b", "nested": {"x": 1}}, "nested"),
    ],
    ids=["unknown-field", "wrong-type", "missing-field", "nul-character", "unknown-object"],
)
async def test_invalid_fields_are_422_naming_the_field(client: httpx.AsyncClient, body: object, field: str) -> None:
    problem = assert_problem(await client.post(TOKEN, json=body), 422, "validation_failed")
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors[0]["field"] == field, errors
    assert errors[0]["message"]


async def test_strings_are_not_coerced_to_numbers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    coordinates = [[["116.40", "39.92"], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94], ["116.40", "39.92"]]]
    response = await client.post(
        "/api/v1/jurisdictions",
        json={"code": jurisdiction_code(), "name": "x", "boundary": {"type": "Polygon", "coordinates": coordinates}},
        headers=auth_headers(settings, admin),
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"].startswith("boundary.coordinates")  # type: ignore[index]
    count = await session.scalar(select(func.count()).select_from(Jurisdiction))
    assert count == 0


@pytest.mark.parametrize(
    "query",
    ["limit=201", "limit=0", "limit=-1", "limit=1.5", "limit=99999999999999999999999", "limit=abc", "limit=nan"],
)
async def test_out_of_range_pages_are_400(client: httpx.AsyncClient, query: str) -> None:
    problem = assert_problem(await client.get(f"/api/v1/jurisdictions?{query}"), 400, "invalid_parameter")
    assert problem["errors"][0]["field"] == "limit"  # type: ignore[index]
    assert "?" not in str(problem.get("detail", "")), "the query string must not be echoed"


async def test_forged_cursor_is_refused(client: httpx.AsyncClient) -> None:
    for cursor in ("garbage!!", "eyJ4IjoxfQ", "W10"):
        problem = assert_problem(
            await client.get("/api/v1/jurisdictions", params={"cursor": cursor}), 400, "invalid_parameter"
        )
        assert problem["errors"][0]["field"] == "cursor"  # type: ignore[index]


@pytest.mark.parametrize("body", [b"8\x14", b"[1] x", b'"a" 1'])
async def test_wrong_type_then_malformed_json_is_400_not_500(client: httpx.AsyncClient, body: bytes) -> None:
    """Found by the fuzzer: msgspec reports the wrong type first; the malformed rest is still a 400."""
    response = await client.post("/api/v1/auth/token", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 400, "malformed_json")


async def test_cursor_shaped_right_but_not_ours_is_422(client: httpx.AsyncClient) -> None:
    """A schema-valid cursor (the pattern says base64url, 24+ characters) that this service did not sign is
    refused as unprocessable, not as malformed: no schema can express a signature (issue 5 §3)."""
    lists = (await client.get("/schema/openapi.json")).json()["paths"]["/api/v1/jurisdictions"]["get"]
    (parameter,) = [p for p in lists["parameters"] if p["name"] == "cursor"]
    for cursor in ("A" * 24, "W10" + "x" * 40, "0" * 512):
        assert re.fullmatch(parameter["schema"]["pattern"], cursor)
        response = await client.get("/api/v1/jurisdictions", params={"cursor": cursor})
        assert_problem(response, 422, "invalid_cursor", fields=["cursor"])
    for cursor in ("A" * 23, "A" * 25, "garbage!!"):  # 25: base64 never ends with one character
        assert not re.fullmatch(parameter["schema"]["pattern"], cursor)
        response = await client.get("/api/v1/jurisdictions", params={"cursor": cursor})
        assert_problem(response, 400, "invalid_parameter", fields=["cursor"])


async def test_repeated_query_parameter_is_400(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/jurisdictions?limit=2&limit=3"), 400, "invalid_parameter")
    assert problem["errors"][0]["field"] == "limit"  # type: ignore[index]


async def test_nul_in_query_is_400(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/jurisdictions?parent_code=%00"), 400, "invalid_parameter")


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    response = await client.delete("/api/v1/jurisdictions")
    assert_problem(response, 405, "method_not_allowed")
    assert "allow" in response.headers


async def test_unexpected_errors_are_generic_500s(own_app: Litestar) -> None:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM registry_vendor -- /srv/flexreg/src/core/db.py")

    own_app.register(boom)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver") as client:
        response = await client.get("/boom")
    problem = assert_problem(response, 500, "internal_error")
    text = response.text
    for leak in ("Traceback", "SELECT", "registry_vendor", "/srv/", "RuntimeError"):
        assert leak not in text
    # One number to quote: the reference is the request id of the header and the access log.
    assert problem["reference"] == problem["request_id"] == response.headers["x-request-id"]


async def test_rejected_geometry_writes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    huge = {"type": "Polygon", "coordinates": [[[116.4 + i * 1e-6, 39.92] for i in range(6000)] + [[116.4, 39.92]]]}
    for boundary in (huge, {"type": "Polygon", "coordinates": [[[181, 91], [182, 91], [182, 92], [181, 91]]]}):
        response = await client.post(
            "/api/v1/jurisdictions",
            json={"code": jurisdiction_code(), "name": "x", "boundary": boundary},
            headers=auth_headers(settings, admin),
        )
        assert_problem(response, 422, "validation_failed")
    ok = await client.post(
        "/api/v1/jurisdictions",
        json={"code": jurisdiction_code(), "name": "ok", "boundary": DONGCHENG_SQUARE},
        headers=auth_headers(settings, admin),
    )
    assert ok.status_code == 201
    assert await session.scalar(select(func.count()).select_from(Jurisdiction)) == 1


async def test_nesting_limit_is_exact(client: httpx.AsyncClient, settings: Settings) -> None:
    limit = settings.http.max_json_depth

    def nested(depth: int) -> bytes:
        # The outer object counts as one level.
        return b'{"username": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b', "password": "x"}'

    at_limit = await client.post(TOKEN, content=nested(limit), headers=JSON)
    assert_problem(at_limit, 422, "validation_failed")  # readable, just the wrong type
    assert_problem(await client.post(TOKEN, content=nested(limit + 1), headers=JSON), 400, "malformed_json")
    # Brackets inside strings are not nesting.
    brackets_in_text = b'{"username": "' + b"[" * 50 + b'", "password": "x"}'
    assert_problem(await client.post(TOKEN, content=brackets_in_text, headers=JSON), 401, "invalid_credentials")


async def test_unknown_query_parameters_are_refused_without_echo(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/jurisdictions", params={"id_number": "11010519491231002X"})
    problem = assert_problem(response, 400, "invalid_parameter")
    assert problem["errors"][0]["field"] == "id_number"  # type: ignore[index]
    assert "11010519491231002X" not in response.text
    assert_problem(await client.get("/api/v1/activities", params={"categroy": "restricted"}), 400, "invalid_parameter")
    known = await client.get("/api/v1/jurisdictions", params={"limit": 5, "parent_code": "110101000000"})
    assert known.status_code == 200
