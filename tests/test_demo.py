"""The demo city builds, can be built again without change, and its accounts work."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from flexreg.demo import STAFF, VENDOR_PASSWORD, VENDORS, account_lines, build_demo_city
from registry.models import Account, Jurisdiction, KeyGroupClaim, Vendor


async def _counts(session: AsyncSession) -> tuple[int, ...]:
    return tuple(
        [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Jurisdiction, Account, Vendor, KeyGroupClaim)
        ]
    )


async def test_demo_city_is_idempotent_and_usable(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    await build_demo_city(sessionmaker, settings)
    first = await _counts(session)
    assert first == (3, len(STAFF) + len(VENDORS), len(VENDORS), len(VENDORS))
    await build_demo_city(sessionmaker, settings)
    assert await _counts(session) == first
    listed = "\n".join(account_lines())
    for username, password, *_ in STAFF:
        assert f"{username:20} {password}" in listed
    assert all(f"{username:20} {VENDOR_PASSWORD}" in listed for username, *_ in VENDORS)

    token = await client.post("/api/v1/auth/token", json={"username": "demo_vendor", "password": VENDOR_PASSWORD})
    assert token.status_code == 200
    me = await client.get("/api/v1/vendors/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.status_code == 200
    assert me.json()["key_groups"] == ["college_graduate"]
    entitlements = await client.get(
        f"/api/v1/vendors/{me.json()['id']}/entitlements",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert entitlements.status_code == 200
