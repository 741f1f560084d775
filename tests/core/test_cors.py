"""CORS is off unless FLEXREG_CORS_ORIGINS names origins; then only those origins get CORS headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.request_log import HEADER
from core.settings import Settings
from flexreg.app import create_app

CONSOLE = "https://console.dongcheng.example.cn"
PREFLIGHT = {
    "Origin": CONSOLE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


@pytest.fixture
async def cors_client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    with_cors = msgspec.structs.replace(
        settings, http=msgspec.structs.replace(settings.http, cors_origins=(CONSOLE, "http://127.0.0.1:5173"))
    )
    transport = httpx.ASGITransport(app=create_app(with_cors, sessionmaker=sessionmaker))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/activities", headers={"Origin": CONSOLE})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options("/api/v1/activities", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


async def test_configured_origin_may_call_the_api_and_read_the_request_id(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options("/api/v1/jurisdictions", headers=PREFLIGHT)
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == CONSOLE
    allowed = {value.strip().lower() for value in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "access-control-allow-credentials" not in preflight.headers

    response = await cors_client.get("/api/v1/activities", headers={"Origin": CONSOLE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == CONSOLE
    exposed = {value.strip().lower() for value in response.headers["access-control-expose-headers"].split(",")}
    assert {HEADER.lower(), "location", "etag"} <= exposed


async def test_other_origins_get_no_cors_headers(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/api/v1/activities", headers={"Origin": "https://elsewhere.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_are_read_from_the_environment(tmp_path: object) -> None:
    env = {"FLEXREG_VAR_DIR": str(tmp_path)}
    assert Settings.from_env(env).http.cors_origins == ()
    both = Settings.from_env({**env, "FLEXREG_CORS_ORIGINS": f" {CONSOLE} , http://127.0.0.1:5173,"})
    assert both.http.cors_origins == (CONSOLE, "http://127.0.0.1:5173")
    assert Settings.from_env({**env, "FLEXREG_CORS_ORIGINS": "*"}).http.cors_origins == ("*",)


@pytest.mark.parametrize(
    "value", ["console.example.cn", "https://console.example.cn/", "ftp://x.cn", "https://a.cn/app"]
)
def test_a_malformed_cors_origin_is_refused_at_start(tmp_path: object, value: str) -> None:
    with pytest.raises(ValueError, match="FLEXREG_CORS_ORIGINS"):
        Settings.from_env({"FLEXREG_VAR_DIR": str(tmp_path), "FLEXREG_CORS_ORIGINS": value})
