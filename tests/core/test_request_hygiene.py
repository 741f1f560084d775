"""Control characters, duplicate keys, media types and the order of refusals (RELIABILITY.md §4 #7, #10, #16-19)."""

from __future__ import annotations

import json

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import ClientException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import create_engine
from core.settings import Settings
from registry.models import Account, Jurisdiction
from tests.builders import DONGCHENG_SQUARE, auth_headers
from tests.problems import assert_problem
from tests.registry.builders import jurisdiction_code, make_account

JSON = {"content-type": "application/json"}
TOKEN = "/api/v1/auth/token"

FORBIDDEN = ["\x00", "\n", "\r", "\t", "\x07", "\x1f", "\x7f", "\u202e", "\u202a", "\u2066", "\u2069"]
FORBIDDEN += ["\u200b", "\u200c", "\u200d", "\ufeff"]


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "raw"])
async def test_forbidden_characters_in_strings_are_422_naming_the_field(
    client: httpx.AsyncClient, char: str, ensure_ascii: bool
) -> None:
    body = json.dumps({"username": f"alice{char}", "password": "x"}, ensure_ascii=ensure_ascii).encode()
    problem = assert_problem(await client.post(TOKEN, content=body, headers=JSON), 422, "validation_failed")
    assert problem["errors"] == [{"field": "username", "message": problem["errors"][0]["message"]}]  # type: ignore[index]
    assert char not in json.dumps(problem, ensure_ascii=False)


async def test_forbidden_characters_are_found_in_nested_values_and_keys(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    headers = {**auth_headers(settings, admin), **JSON}
    base = {"code": jurisdiction_code(), "name": "ok", "boundary": DONGCHENG_SQUARE}
    bad_name = json.dumps({**base, "name": "East\u202egnirts"}).encode()
    problem = assert_problem(
        await client.post("/api/v1/jurisdictions", content=bad_name, headers=headers), 422, "validation_failed"
    )
    assert problem["errors"][0]["field"] == "name"  # type: ignore[index]
    # The trailing newline that Python's `$` lets through every ^…$ pattern (was a 500 from varchar(12)).
    bad_code = json.dumps({**base, "code": jurisdiction_code() + "\n"}).encode()
    problem = assert_problem(
        await client.post("/api/v1/jurisdictions", content=bad_code, headers=headers), 422, "validation_failed"
    )
    assert problem["errors"][0]["field"] == "code"  # type: ignore[index]
    bad_key = json.dumps({**base, "boundary": {**DONGCHENG_SQUARE, "type\n": 1}}).encode()
    assert_problem(
        await client.post("/api/v1/jurisdictions", content=bad_key, headers=headers), 422, "validation_failed"
    )
    assert await session.scalar(select(func.count()).select_from(Jurisdiction)) == 0


async def test_trailing_newline_in_a_username_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    response = await client.post(
        "/api/v1/accounts",
        json={"username": "alice\n", "password": "long enough password", "role": "admin"},
        headers=auth_headers(settings, admin),
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "username"  # type: ignore[index]
    assert await session.scalar(select(func.count()).select_from(Account).where(Account.username.like("alice%"))) == 0


@pytest.mark.parametrize(
    "username",
    ["a\u2014b \u201cquoted\u201d \u2026", 'say \\"hi\\"', "back\\\\slash", "\u4e2d\u6587", "a\u00b7b"],
    ids=["punctuation", "escaped-quote", "backslash", "han", "middle-dot"],
)
async def test_ordinary_text_passes(client: httpx.AsyncClient, username: str) -> None:
    for ensure_ascii in (True, False):
        body = json.dumps({"username": username, "password": "x"}, ensure_ascii=ensure_ascii).encode()
        assert_problem(await client.post(TOKEN, content=body, headers=JSON), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": "a", "username": "admin", "password": "x"}',
        b'{"username":"a","password":"x","username":"admin"}',
        b'{"username" : "a" , "username" : "admin", "password": "x"}',
        b'{\n  "username": "a",\n  "password": "x",\n  "username":\n "b"\n}',
    ],
    ids=["spaced", "compact", "space-before-colon", "pretty"],
)
async def test_duplicate_keys_are_400_naming_the_key(client: httpx.AsyncClient, body: bytes) -> None:
    problem = assert_problem(await client.post(TOKEN, content=body, headers=JSON), 400, "malformed_json")
    assert problem["errors"] == [{"field": "username", "message": "is given more than once"}]


async def test_duplicate_keys_in_nested_objects_are_400(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    boundary = json.dumps(DONGCHENG_SQUARE)[:-1] + ', "type": "Polygon"}'
    body = f'{{"code": "{jurisdiction_code()}", "name": "x", "boundary": {boundary}}}'.encode()
    response = await client.post(
        "/api/v1/jurisdictions", content=body, headers={**auth_headers(settings, admin), **JSON}
    )
    problem = assert_problem(response, 400, "malformed_json")
    assert problem["errors"][0]["field"] == "type"  # type: ignore[index]


async def test_key_lookalikes_inside_strings_are_not_duplicates(client: httpx.AsyncClient) -> None:
    body = b'{"username": "x\\":\\"username\\":", "password": "\\"password\\": 1"}'
    assert_problem(await client.post(TOKEN, content=body, headers=JSON), 401, "invalid_credentials")


async def test_control_characters_in_the_path_are_400(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/jurisdictions/%00", "/api/v1/jurisdictions/1101%0A", "/api/v1/activities/%E2%80%AE"):
        problem = assert_problem(await client.get(path), 400, "invalid_parameter")
        assert problem["errors"][0]["field"] == "path"  # type: ignore[index]


async def test_nul_in_a_cursor_is_400(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.get("/api/v1/jurisdictions", params={"cursor": "WyJcdTAwMDAiXQ"}), 400, "invalid_parameter"
    )
    assert problem["errors"][0]["field"] == "cursor"  # type: ignore[index]


async def test_anonymous_caller_gets_401_before_415_or_400(client: httpx.AsyncClient) -> None:
    text = {"content-type": "text/plain"}
    assert_problem(await client.post("/api/v1/jurisdictions", content=b"{}", headers=text), 401, "not_authenticated")
    assert_problem(await client.post("/api/v1/jurisdictions?a=1&a=2", json={}), 401, "not_authenticated")
    assert_problem(await client.post("/api/v1/documents", content=b"{}", headers=JSON), 401, "not_authenticated")
    assert_problem(await client.get("/api/v1/vendors/me?x=%00"), 401, "not_authenticated")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
async def test_json_handlers_want_json(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, content_type: str
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    headers = {**auth_headers(settings, admin), "content-type": content_type}
    problem = assert_problem(
        await client.post("/api/v1/jurisdictions", content=b"{}", headers=headers), 415, "unsupported_media_type"
    )
    assert "application/json" in str(problem["detail"])
    assert content_type not in str(problem["detail"])


async def test_json_handlers_accept_json_variants(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.flexreg+json", "Application/JSON"):
        body = b'{"username": "a", "password": "b"}'
        assert_problem(
            await client.post(TOKEN, content=body, headers={"content-type": content_type}), 401, "invalid_credentials"
        )


async def test_json_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(TOKEN, content=b'{"username": "a", "password": "b"}')
    assert "content-type" not in response.request.headers
    assert_problem(response, 415, "unsupported_media_type")


async def test_multipart_handler_wants_multipart(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    vendor = await make_account(session, "vendor")
    await session.commit()
    response = await client.post(
        "/api/v1/documents", content=b'{"file": "x"}', headers={**auth_headers(settings, vendor), **JSON}
    )
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "multipart/form-data" in str(problem["detail"])


async def test_body_sent_to_a_bodyless_handler_is_ignored(client: httpx.AsyncClient) -> None:
    response = await client.request(
        "GET", "/api/v1/departments", content=b"anything", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200


async def test_repeated_and_control_character_query_parameters_are_400(client: httpx.AsyncClient) -> None:
    for query in ("limit=2&limit=3", "limit=2&limit=2", "parent_code=%0A", "parent_code=%E2%80%AE", "%00=1"):
        assert_problem(await client.get(f"/api/v1/jurisdictions?{query}"), 400, "invalid_parameter")
    assert_problem(await client.get("/api/v1/jurisdictions?parent_code=%FF"), 400, "invalid_parameter")


async def test_rejected_values_are_not_echoed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    secret = "SECRET11010519491231002X"
    response = await client.post(
        "/api/v1/jurisdictions",
        json={"code": jurisdiction_code(), "name": "x", "boundary": DONGCHENG_SQUARE, "coordinate_system": secret},
        headers=auth_headers(settings, admin),
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"] == "coordinate_system"  # type: ignore[index]
    assert secret not in response.text


async def test_framework_refusals_do_not_echo_their_detail(own_app: Litestar) -> None:
    @get("/parse-error", sync_to_thread=False)
    def parse_error() -> None:
        raise ClientException("Failed to parse 11010519491231002X")

    own_app.register(parse_error)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver") as client:
        response = await client.get("/parse-error")
    assert_problem(response, 400, "bad_request")
    assert "11010519491231002X" not in response.text


async def test_engine_hides_parameters_in_errors(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        assert engine.sync_engine.hide_parameters
    finally:
        await engine.dispose()
