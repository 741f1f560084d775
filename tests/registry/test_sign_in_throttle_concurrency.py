"""A burst of wrong passwords at once from one address: no more than the free attempts reach the password.

On separate connections outside the rollback fixture: the racers must hold their own transactions at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.settings import Settings
from flexreg.app import create_app
from registry import accounts
from registry.models import Account, AuthSession, LoginDelay, LoginFailure, RefreshToken
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account

pytestmark = pytest.mark.concurrency
RACERS = 20


APPLICATION = "flexreg-throttle-test"


@pytest.fixture
async def pooled_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=RACERS,
        max_overflow=RACERS,
        connect_args={"server_settings": {"application_name": APPLICATION}},
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_of_a_burst_of_wrong_passwords_from_one_address_only_the_free_ones_are_checked(
    pooled_engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        account = await make_account(session, "admin")
    checked = 0
    real_verify = accounts.verify_password

    async def counted_verify(password_hash: str | None, password: str) -> bool:
        nonlocal checked
        checked += 1
        return await real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counted_verify)
    app = create_app(settings, sessionmaker=sessionmaker)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    key = account.username.lower()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            start = asyncio.Event()

            async def guess() -> httpx.Response:
                await start.wait()
                body: dict[str, Any] = {"username": account.username, "password": "wrong guess"}
                return await client.post("/api/v1/auth/token", json=body)

            racers = [asyncio.create_task(guess()) for _ in range(RACERS)]
            await asyncio.sleep(0)
            start.set()
            responses = await asyncio.gather(*racers)
        free = settings.auth.login_free_failures
        answered = [response for response in responses if response.status_code == 401]
        for response in answered:
            assert_problem(response, 401, "invalid_credentials")
        for response in responses:
            if response.status_code != 401:
                assert_problem(response, 429, "too_many_login_attempts")
        assert len(answered) == free == checked, [response.status_code for response in responses]
        async with transaction(sessionmaker) as session:
            pair = await session.scalar(select(LoginDelay.failures).where(LoginDelay.username_key == key))
            assert pair == free  # the refused attempts were not counted
    finally:
        async with transaction(sessionmaker) as session:
            await session.execute(delete(LoginDelay).where(LoginDelay.username_key == key))
            await session.execute(delete(LoginFailure).where(LoginFailure.username_key == key))
            await session.execute(delete(Account).where(Account.id == account.id))


async def test_the_password_is_checked_with_no_transaction_open(
    pooled_engine: AsyncEngine, engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 takes tens of milliseconds: no connection of the app sits in a transaction meanwhile."""
    sessionmaker = create_sessionmaker(pooled_engine)
    async with transaction(sessionmaker) as session:
        account = await make_account(session, "admin")
    open_meanwhile: list[int] = []
    real_verify = accounts.verify_password

    async def watched_verify(password_hash: str | None, password: str) -> bool:
        async with engine.connect() as watcher:  # the suite's own engine: not the app's
            busy = await watcher.scalar(
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("application_name = :name AND state LIKE 'idle in transaction%'"))
                .params(name=APPLICATION)
            )
        open_meanwhile.append(int(busy or 0))
        return await real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", watched_verify)
    app = create_app(settings, sessionmaker=sessionmaker)
    key = account.username.lower()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            for password in ("wrong guess", PASSWORD):
                await client.post("/api/v1/auth/token", json={"username": account.username, "password": password})
        assert open_meanwhile == [0, 0]
    finally:
        async with transaction(sessionmaker) as session:
            await session.execute(delete(LoginDelay).where(LoginDelay.username_key == key))
            await session.execute(delete(LoginFailure).where(LoginFailure.username_key == key))
            families = select(AuthSession.id).where(AuthSession.account_id == account.id)
            await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(families)))
            await session.execute(delete(AuthSession).where(AuthSession.account_id == account.id))
            await session.execute(delete(Account).where(Account.id == account.id))
