"""Refresh races and revocation across processes, on separate connections outside the rollback fixture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from registry.models import Account, AccountEvent, AuthSession, LoginDelay, LoginFailure, RefreshToken
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account

pytestmark = pytest.mark.concurrency
RACERS = 20


@pytest.fixture
async def pooled_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own with a real pool: the racers must hold separate connections at once."""
    engine = create_async_engine(sqlalchemy_url(database_url), pool_size=RACERS, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _cleanup(engine: AsyncEngine, accounts: list[Account]) -> None:
    ids = [account.id for account in accounts]
    names = [account.username.lower() for account in accounts]
    async with transaction(create_sessionmaker(engine)) as session:
        families = select(AuthSession.id).where(AuthSession.account_id.in_(ids))
        await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(families)))
        await session.execute(delete(AuthSession).where(AuthSession.account_id.in_(ids)))
        await session.execute(delete(AccountEvent).where(AccountEvent.account_id.in_(ids)))
        await session.execute(delete(LoginDelay).where(LoginDelay.username_key.in_(names)))
        await session.execute(delete(LoginFailure).where(LoginFailure.username_key.in_(names)))
        await session.execute(delete(Account).where(Account.id.in_(ids)))


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_of_many_simultaneous_refreshes_with_one_token_exactly_one_wins(
    pooled_engine: AsyncEngine, settings: Settings
) -> None:
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        account = await make_account(session, "admin")
    app = create_app(settings, sessionmaker=sessionmaker)
    try:
        async with _client(app) as client:
            signed_in = await client.post(
                "/api/v1/auth/token", json={"username": account.username, "password": PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
            token = signed_in.json()["refresh_token"]
            start = asyncio.Event()

            async def refresh() -> httpx.Response:
                await start.wait()
                return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})

            racers = [asyncio.create_task(refresh()) for _ in range(RACERS)]
            await asyncio.sleep(0)
            start.set()
            responses = await asyncio.gather(*racers)
            winners = [response for response in responses if response.status_code == 200]
            assert len(winners) == 1, [response.text for response in responses]
            for response in responses:
                if response.status_code != 200:
                    assert_problem(response, 401, "refresh_token_reused")
            # The losers presented a spent token: the family is revoked, the winner's new pair with it.
            winner = winners[0].json()
            again = await client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
            assert_problem(again, 401, "invalid_refresh_token")
            bearer = {"Authorization": f"Bearer {winner['access_token']}"}
            assert_problem(await client.get("/api/v1/accounts", headers=bearer), 401, "not_authenticated")
        async with transaction(sessionmaker) as session:
            family = select(AuthSession.id).where(AuthSession.account_id == account.id)
            issued = await session.scalar(
                select(func.count()).select_from(RefreshToken).where(RefreshToken.session_id.in_(family))
            )
            assert issued == 2  # the first and the one winner's: no loser got a token
    finally:
        await _cleanup(pooled_engine, [account])


async def test_a_deactivation_on_one_process_ends_the_token_on_another(
    pooled_engine: AsyncEngine, settings: Settings
) -> None:
    """Two apps with their own pools stand for two server processes: nothing is cached per process."""
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        admin = await make_account(session, "admin")
        target = await make_account(session, "admin")
    first, second = create_app(settings, sessionmaker=sessionmaker), create_app(settings, sessionmaker=sessionmaker)
    try:
        async with _client(first) as one, _client(second) as other:
            signed_in = await other.post("/api/v1/auth/token", json={"username": target.username, "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            assert (await other.get("/api/v1/accounts", headers=bearer)).status_code == 200
            deactivated = await one.patch(
                f"/api/v1/accounts/{target.id}", json={"is_active": False}, headers=auth_headers(settings, admin)
            )
            assert deactivated.status_code == 200, deactivated.text
            assert_problem(await other.get("/api/v1/accounts", headers=bearer), 401, "not_authenticated")
    finally:
        await _cleanup(pooled_engine, [admin, target])
