"""Refresh races and revocation across processes, on separate connections outside the rollback fixture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
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


async def _race(client: httpx.AsyncClient, token: str) -> list[httpx.Response]:
    """RACERS refreshes with one token, released at once."""
    start = asyncio.Event()

    async def refresh() -> httpx.Response:
        await start.wait()
        return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})

    racers = [asyncio.create_task(refresh()) for _ in range(RACERS)]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*racers))


async def _issued(engine: AsyncEngine, account: Account) -> int:
    async with transaction(create_sessionmaker(engine)) as session:
        family = select(AuthSession.id).where(AuthSession.account_id == account.id)
        return int(
            await session.scalar(
                select(func.count()).select_from(RefreshToken).where(RefreshToken.session_id.in_(family))
            )
            or 0
        )


@pytest.mark.parametrize(("grace_seconds", "expected_winners"), [(0, 1), (30, 2)])
async def test_of_many_simultaneous_refreshes_with_one_token_one_spends_it_and_at_most_one_retries(
    pooled_engine: AsyncEngine, settings: Settings, grace_seconds: int, expected_winners: int
) -> None:
    """The first spends the token; with a grace, the first to find it spent is taken for a retry after a lost
    answer (the server cannot tell the two apart); every other presentation is reuse and revokes the sign-in."""
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        account = await make_account(session, "admin")
    auth = msgspec.structs.replace(settings.auth, refresh_reuse_grace_seconds=grace_seconds)
    app = create_app(msgspec.structs.replace(settings, auth=auth), sessionmaker=sessionmaker)
    try:
        async with _client(app) as client:
            signed_in = await client.post(
                "/api/v1/auth/token", json={"username": account.username, "password": PASSWORD}
            )
            assert signed_in.status_code == 200, signed_in.text
            responses = await _race(client, signed_in.json()["refresh_token"])
            winners = [response for response in responses if response.status_code == 200]
            assert len(winners) == expected_winners, [response.text for response in responses]
            for response in responses:
                if response.status_code != 200:
                    assert_problem(response, 401, "refresh_token_reused")
            # The losers presented a spent token: the family is revoked, the winners' new pairs with it (the
            # spender's refresh token was superseded by the retry: spent, so presenting it is reuse too).
            for winner in (response.json() for response in winners):
                again = await client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
                assert again.status_code == 401, again.text
                bearer = {"Authorization": f"Bearer {winner['access_token']}"}
                assert_problem(await client.get("/api/v1/accounts", headers=bearer), 401, "not_authenticated")
        assert await _issued(pooled_engine, account) == 1 + expected_winners  # no loser got a token
    finally:
        await _cleanup(pooled_engine, [account])


async def test_of_many_simultaneous_retries_of_a_spent_token_within_the_grace_at_most_one_succeeds(
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
            token = signed_in.json()["refresh_token"]
            lost = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert lost.status_code == 200, lost.text
            responses = await _race(client, token)
            winners = [response for response in responses if response.status_code == 200]
            assert len(winners) == 1, [response.text for response in responses]
            for response in responses:
                if response.status_code != 200:
                    assert_problem(response, 401, "refresh_token_reused")
        assert await _issued(pooled_engine, account) == 3
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
