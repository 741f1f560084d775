"""Personal data is never kept by caches; the public reference lists are, each with its own ETag."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.catalogue import CATEGORIES
from tests.builders import auth_headers
from tests.registry.builders import PASSWORD, make_account

LISTS = ["/api/v1/activities", "/api/v1/departments", "/api/v1/permit-types"]
CATEGORY = sorted(CATEGORIES)[0]


async def test_api_responses_are_no_store_by_default(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    responses = [
        await client.get("/api/v1/jurisdictions"),
        await client.get("/api/v1/accounts", headers=auth_headers(settings, admin)),
        await client.get("/api/v1/vendors/me"),  # 401 problem
        await client.get("/api/v1/no-such-thing"),  # 404 from the router
        await client.post("/api/v1/auth/token", content=b"x", headers={"content-type": "application/json"}),
    ]
    for response in responses:
        assert response.headers.get_list("cache-control") == ["no-store"], (response.request.url, response.headers)


async def test_token_response_keeps_its_own_no_store(client: httpx.AsyncClient, session: AsyncSession) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    response = await client.post("/api/v1/auth/token", json={"username": account.username, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["no-store"]


@pytest.mark.parametrize("url", [*LISTS, f"/api/v1/activities?category={CATEGORY}"])
async def test_reference_lists_are_public_with_an_etag_of_their_bytes(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["public, max-age=300"]
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    assert (await client.get(url)).headers["etag"] == etag


async def test_each_list_has_its_own_etag(client: httpx.AsyncClient) -> None:
    urls = [*LISTS, *(f"/api/v1/activities?category={c}" for c in sorted(CATEGORIES))]
    etags = [(await client.get(url)).headers["etag"] for url in urls]
    assert len(set(etags)) == len(etags)


@pytest.mark.parametrize(
    "header",
    ["{etag}", "W/{etag}", '"other", {etag}', '"a",W/{etag} , "b"', "*", " * "],
    ids=["strong", "weak", "list", "weak-in-list", "star", "star-spaced"],
)
@pytest.mark.parametrize("url", [*LISTS, f"/api/v1/activities?category={CATEGORY}"])
async def test_if_none_match_uses_weak_comparison(client: httpx.AsyncClient, url: str, header: str) -> None:
    etag = (await client.get(url)).headers["etag"]
    response = await client.get(url, headers={"if-none-match": header.format(etag=etag)})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_other_lists_etags_do_not_match(client: httpx.AsyncClient) -> None:
    departments = (await client.get("/api/v1/departments")).headers["etag"]
    for header in (departments, f"W/{departments}", '"nope"', "", departments.strip('"')):
        response = await client.get("/api/v1/permit-types", headers={"if-none-match": header})
        assert response.status_code == 200, header
