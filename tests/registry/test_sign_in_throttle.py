"""Sign-in throttling: a progressive delay per username and client address that cannot lock the owner out."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from core.client_address import parse_trusted_proxies
from core.clock import FixedClock
from core.settings import Settings
from registry.throttle import delay_seconds
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account

TOKEN = "/api/v1/auth/token"
From = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def from_address(app: Litestar) -> From:
    """A client whose requests come from this address (the connection's peer, as the ASGI server reports it)."""

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as opened:
            yield opened

    return client


async def _try(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(TOKEN, json={"username": username, "password": password})


def test_the_delay_doubles_after_the_free_failures_up_to_the_cap(settings: Settings) -> None:
    auth = settings.auth
    assert [delay_seconds(n, auth) for n in range(8)] == [0, 0, 0, 1, 2, 4, 8, 16]
    assert delay_seconds(13, auth) == 900  # 2^10 = 1024, capped at 15 minutes
    assert delay_seconds(10**9, auth) == auth.login_delay_cap_seconds


async def test_the_delay_grows_and_retry_after_names_it(
    from_address: From, session: AsyncSession, clock: FixedClock
) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    async with from_address("198.51.100.7") as attacker:
        for _ in range(3):  # free
            assert_problem(await _try(attacker, account.username, "wrong!"), 401, "invalid_credentials")
        waits = []
        for _ in range(5):
            refused = await _try(attacker, account.username, "wrong!")
            assert_problem(refused, 429, "too_many_login_attempts")
            wait = int(refused.headers["retry-after"])
            waits.append(wait)
            # Half a second before the wait is over: still refused, and Retry-After rounds the rest up.
            clock.advance(dt.timedelta(seconds=wait - 0.5))
            again = await _try(attacker, account.username, PASSWORD)  # even the right password is not looked at
            assert_problem(again, 429, "too_many_login_attempts")
            assert again.headers["retry-after"] == "1"
            clock.advance(dt.timedelta(seconds=0.5))
            assert_problem(await _try(attacker, account.username, "wrong!"), 401, "invalid_credentials")
        assert waits == [1, 2, 4, 8, 16]


async def test_an_attacker_elsewhere_does_not_lock_the_owner_out(
    from_address: From, session: AsyncSession, clock: FixedClock
) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    async with from_address("198.51.100.7") as attacker:
        for _ in range(12):
            response = await _try(attacker, account.username, "wrong!")
            if response.status_code == 429:
                clock.advance(dt.timedelta(seconds=int(response.headers["retry-after"])))
                response = await _try(attacker, account.username, "wrong!")
            assert_problem(response, 401, "invalid_credentials")
        assert_problem(await _try(attacker, account.username, PASSWORD), 429, "too_many_login_attempts")
    async with from_address("203.0.113.20") as owner:
        response = await _try(owner, account.username.upper(), PASSWORD)
        assert response.status_code == 200, response.text


async def test_a_success_resets_the_pair(from_address: From, session: AsyncSession, clock: FixedClock) -> None:
    account = await make_account(session, "admin")
    await session.commit()
    async with from_address("203.0.113.20") as owner:
        for _ in range(4):
            await _try(owner, account.username, "typo")
        clock.advance(dt.timedelta(seconds=2))
        assert (await _try(owner, account.username, PASSWORD)).status_code == 200
        for _ in range(3):  # free again
            assert_problem(await _try(owner, account.username, "typo"), 401, "invalid_credentials")


async def test_a_spoofed_forwarded_for_does_not_change_the_key(from_address: From, session: AsyncSession) -> None:
    """Without FLEXREG_TRUSTED_PROXIES the header is the caller's own text: it must not buy a fresh count."""
    account = await make_account(session, "admin")
    await session.commit()
    async with from_address("198.51.100.7") as attacker:
        for n in range(4):
            headers = {"X-Forwarded-For": f"192.0.2.{n}"}
            await attacker.post(TOKEN, json={"username": account.username, "password": "x"}, headers=headers)
        refused = await attacker.post(
            TOKEN, json={"username": account.username, "password": "x"}, headers={"X-Forwarded-For": "192.0.2.99"}
        )
        assert_problem(refused, 429, "too_many_login_attempts")


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_key(
    app: Litestar, from_address: From, session: AsyncSession, settings: Settings
) -> None:
    http = msgspec.structs.replace(settings.http, trusted_proxies=parse_trusted_proxies("10.0.0.1"))
    app.state.settings = msgspec.structs.replace(settings, http=http)
    account = await make_account(session, "admin")
    await session.commit()
    async with from_address("10.0.0.1") as proxy:
        attacker, owner = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.20"}
        for _ in range(4):
            await proxy.post(TOKEN, json={"username": account.username, "password": "x"}, headers=attacker)
        refused = await proxy.post(TOKEN, json={"username": account.username, "password": PASSWORD}, headers=attacker)
        assert_problem(refused, 429, "too_many_login_attempts")
        fine = await proxy.post(TOKEN, json={"username": account.username, "password": PASSWORD}, headers=owner)
        assert fine.status_code == 200, fine.text


async def test_the_gentle_cap_across_addresses_still_lets_a_clean_address_in(
    app: Litestar, from_address: From, session: AsyncSession, settings: Settings, clock: FixedClock
) -> None:
    auth = msgspec.structs.replace(settings.auth, login_failure_limit=5)
    app.state.settings = msgspec.structs.replace(settings, auth=auth)
    window = auth.login_window_seconds
    assert clock.now().timestamp() % window == 0  # START falls on a window boundary
    account = await make_account(session, "admin")
    await session.commit()
    for n in range(5):  # a botnet: one guess from each address
        async with from_address(f"198.51.100.{n}") as bot:
            assert_problem(await _try(bot, account.username, "guess"), 401, "invalid_credentials")
    clock.advance(dt.timedelta(seconds=100))
    async with from_address("198.51.100.0") as bot:
        refused = await _try(bot, account.username, PASSWORD)
        assert_problem(refused, 429, "too_many_login_attempts")
        assert int(refused.headers["retry-after"]) == window - 100
    async with from_address("203.0.113.20") as owner:
        assert (await _try(owner, account.username, PASSWORD)).status_code == 200
    clock.advance(dt.timedelta(seconds=window - 100))
    async with from_address("198.51.100.0") as bot:
        assert (await _try(bot, account.username, PASSWORD)).status_code == 200


async def test_a_username_postgresql_would_fold_onto_an_account_names_nobody(
    from_address: From, session: AsyncSession
) -> None:
    """'İ' lower-cases to 'i' in PostgreSQL but not in Python: such a variant would be a fresh throttle key."""
    account = await make_account(session, "vendor", username="alice_throttle")
    await session.commit()
    async with from_address("203.0.113.9") as client:
        assert (await _try(client, account.username, PASSWORD)).status_code == 200
        variant = account.username.replace("i", "\u0130")
        assert_problem(await _try(client, variant, PASSWORD), 401, "invalid_credentials")
