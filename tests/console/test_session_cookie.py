"""The console's session cookie: how it is set, what it authenticates, and the CSRF proof every change needs."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry import accounts
from tests.builders import auth_headers
from tests.registry.builders import make_account

PASSWORD = "reviewer-password"
_FORM_TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


async def _reviewer(session: AsyncSession) -> str:
    username = f"rev_{uuid.uuid4().hex[:8]}"
    await accounts.open_account(
        session, username=username, password=PASSWORD, role="department", department_code="market_regulation"
    )
    return username


async def _sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/console")
    token = _FORM_TOKEN.search(form.text)
    assert token is not None
    return await client.post(
        "/console/sign-in", data={"csrf": token.group(1), "username": username, "password": password}
    )


async def test_signing_in_sets_an_httponly_strict_cookie_and_leads_to_the_console(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    username = await _reviewer(session)
    response = await _sign_in(client, username)
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith("flexreg_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    home = await client.get("/console")
    assert home.status_code == 200
    assert username in home.text
    assert home.headers["content-type"].startswith("text/html")
    assert home.headers["cache-control"] == "no-store"


async def test_a_wrong_password_is_refused_on_the_form_and_sets_no_session(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    username = await _reviewer(session)
    response = await _sign_in(client, username, "not the password")
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.text
    assert "flexreg_session" not in client.cookies


async def test_a_sign_in_without_the_forms_token_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    username = await _reviewer(session)
    await client.get("/console")
    response = await client.post(
        "/console/sign-in", data={"csrf": "0" * 64, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "flexreg_session" not in client.cookies


async def test_a_sign_in_posted_from_another_site_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    username = await _reviewer(session)
    form = await client.get("/console")
    token = _FORM_TOKEN.search(form.text)
    assert token is not None
    response = await client.post(
        "/console/sign-in",
        data={"csrf": token.group(1), "username": username, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert "flexreg_session" not in client.cookies


async def test_the_cookie_authenticates_reads_and_changes_need_the_csrf_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _sign_in(client, await _reviewer(session))
    queue = await client.get("/api/v1/tasks")
    assert queue.status_code == 200
    decision = f"/api/v1/tasks/{uuid.uuid4()}/decision"
    body = {"decision": "approve", "note": ""}
    missing = await client.post(decision, json=body, headers={"If-Match": '"1"'})
    assert missing.status_code == 403
    assert missing.json()["code"] == "csrf_refused"
    home = await client.get("/console")
    token = _META_TOKEN.search(home.text)
    assert token is not None
    csrf = token.group(1)
    wrong = await client.post(decision, json=body, headers={"If-Match": '"1"', "X-CSRF-Token": "0" * 64})
    assert wrong.json()["code"] == "csrf_refused"
    cross_site = await client.post(
        decision, json=body, headers={"If-Match": '"1"', "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.json()["code"] == "csrf_refused"
    other_origin = await client.post(
        decision, json=body, headers={"If-Match": '"1"', "X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert other_origin.json()["code"] == "csrf_refused"
    # With its proof the request reaches the handler: an unknown task is the API's own 404.
    proven = await client.post(decision, json=body, headers={"If-Match": '"1"', "X-CSRF-Token": csrf})
    assert proven.status_code == 404
    assert proven.json()["code"] == "task_not_found"


async def test_a_bearer_header_is_judged_alone_even_with_a_session_cookie(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _sign_in(client, await _reviewer(session))
    response = await client.get("/api/v1/tasks", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


async def test_signing_out_clears_the_cookie(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await _sign_in(client, await _reviewer(session))
    home = await client.get("/console")
    token = _FORM_TOKEN.search(home.text)
    assert token is not None
    response = await client.post("/console/sign-out", data={"csrf": token.group(1)})
    assert response.status_code == 303
    assert "flexreg_session" not in client.cookies
    assert (await client.get("/api/v1/tasks")).status_code == 401


async def test_signing_out_ends_the_session_for_a_copy_of_the_cookie_too(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _sign_in(client, await _reviewer(session))
    copied = client.cookies["flexreg_session"]
    assert (await client.get("/api/v1/tasks")).status_code == 200
    home = await client.get("/console")
    token = _FORM_TOKEN.search(home.text)
    assert token is not None
    assert (await client.post("/console/sign-out", data={"csrf": token.group(1)})).status_code == 303
    client.cookies.set("flexreg_session", copied)
    assert (await client.get("/api/v1/tasks")).status_code == 401
    page = await client.get("/console")
    assert 'name="password"' in page.text  # the sign-in form again, not the console


async def test_deactivating_the_account_ends_its_console_session(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    username = await _reviewer(session)
    await _sign_in(client, username)
    reviewer = await accounts.find_account(session, username)
    assert reviewer is not None
    admin = await make_account(session, "admin")
    await session.commit()
    assert (await client.get("/api/v1/tasks")).status_code == 200
    response = await client.patch(
        f"/api/v1/accounts/{reviewer.id}", json={"is_active": False}, headers=auth_headers(settings, admin)
    )
    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/tasks")).status_code == 401
    assert 'name="password"' in (await client.get("/console")).text


async def test_pages_allow_scripts_and_frames_from_the_app_alone(client: httpx.AsyncClient) -> None:
    page = await client.get("/console")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"


def test_a_tile_servers_subdomains_become_one_csp_wildcard() -> None:
    from flexreg.console.pages import _tile_source

    assert _tile_source("https://webrd0{s}.tiles.example.cn/{z}/{x}/{y}.png") == "https://*.tiles.example.cn"
    assert _tile_source("https://{s}.tiles.example.cn/{z}/{x}/{y}.png") == "https://*.tiles.example.cn"
    assert _tile_source("https://tiles.example.cn:8443/{z}/{x}/{y}.png") == "https://tiles.example.cn:8443"
    assert _tile_source("https://tiles.{s}.example.cn/{z}/{x}/{y}.png") == "https:"
