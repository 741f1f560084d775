"""Security headers on a sample of every kind of response: API data, problems, unrouted 404s, docs, console,
static files (core.security_headers)."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from flexreg import docs
from flexreg.app import application_state

ALWAYS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"

# path → (status, content type it starts with)
SAMPLE = {
    "/api/v1/permit-signing-keys": (200, "application/json"),
    "/api/v1/permits/BJ-NO-SUCH-PERMIT": (404, "application/problem+json"),
    "/api/v1/vendors/me": (401, "application/problem+json"),
    "/no/such/route": (404, "application/problem+json"),
    "/schema/openapi.json": (200, "application/vnd.oai.openapi+json"),
}


@pytest.mark.parametrize("path", SAMPLE)
async def test_data_and_problems_run_nothing_and_are_framed_nowhere(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    status, media_type = SAMPLE[path]
    assert (answer.status_code, answer.headers["content-type"].split(";")[0]) == (status, media_type)
    for name, value in ALWAYS.items():
        assert answer.headers[name] == value
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-security-policy"] == DATA_POLICY
    assert answer.headers["cross-origin-resource-policy"] == "same-origin"
    assert "strict-transport-security" not in answer.headers  # the suite's public URL is http


async def test_the_docs_page_gets_a_policy_swagger_ui_works_under(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == docs.CONTENT_SECURITY_POLICY
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    for name, value in ALWAYS.items():
        assert page.headers[name] == value
    # What the page loads is the app's own ('self'); tests/e2e/test_pages_offline.py renders it under the policy.
    assert docs.ASSETS_PATH in page.text


async def test_console_pages_keep_their_own_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/console")
    assert page.status_code == 200
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    for name, value in ALWAYS.items():
        assert page.headers[name] == value


async def test_static_files_get_no_document_policy(client: httpx.AsyncClient) -> None:
    """A script's CSP header would bind it as a worker (the verification page's service worker must fetch)."""
    for path in ("/verify/sw.js", f"{docs.ASSETS_PATH}/swagger-ui.css"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in answer.headers, path


async def test_https_deployments_get_strict_transport_security(
    app: Litestar, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    https = msgspec.structs.replace(settings.http, public_url="https://permits.example.cn")
    app.state = application_state(msgspec.structs.replace(settings, http=https), sessionmaker=sessionmaker)
    for path in ("/api/v1/permit-signing-keys", "/no/such/route", "/console"):
        assert (await client.get(path)).headers["strict-transport-security"] == "max-age=31536000", path
