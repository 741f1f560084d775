"""A statement cancelled by statement_timeout or lock_timeout, and a pool with no connection free, are 503s with
Retry-After, never 500s; the connection is back in the pool for the next request (RELIABILITY.md T-R6, T-R7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Request, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import create_engine, create_sessionmaker
from core.deps import DbSession
from core.settings import Settings
from flexreg.app import create_app
from tests.problems import assert_problem

LOCK_KEY = 7_400_913  # an advisory lock key no code of the service uses


@get("/test-only/sleep")
async def sleep(session: DbSession) -> dict[str, str]:
    await session.execute(text("SELECT pg_sleep(30)"))
    return {"slept": "yes"}


@get("/test-only/lock")
async def lock(session: DbSession) -> dict[str, str]:
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    return {"locked": "yes"}


@get("/test-only/hold")
async def hold(request: Request[Any, Any, Any], session: DbSession) -> dict[str, str]:
    """Holds the request's pooled connection until the test says so (events in the app's state)."""
    await session.execute(text("SELECT 1"))
    request.app.state.held.set()
    await request.app.state.release.wait()
    return {"held": "yes"}


@get("/test-only/quick")
async def quick(session: DbSession) -> dict[str, int]:
    return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}


@pytest.fixture
async def tight_app(settings: Settings) -> AsyncIterator[Litestar]:
    """An app on a real engine of one connection, with short timeouts (server side: the engine's own settings)."""
    db = msgspec.structs.replace(
        settings.db,
        pool_size=1,
        max_overflow=0,
        pool_timeout_seconds=0.2,
        statement_timeout_ms=500,
        lock_timeout_ms=50,
    )
    tight = msgspec.structs.replace(settings, db=db)
    engine = create_engine(tight)
    app = create_app(tight, sessionmaker=create_sessionmaker(engine))
    for handler in (sleep, lock, hold, quick):
        app.register(handler)
    try:
        yield app
    finally:
        await engine.dispose()


@pytest.fixture
async def client(tight_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tight_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_busy(answer: httpx.Response) -> dict[str, Any]:
    body = assert_problem(answer, 503, "service_unavailable")
    assert answer.headers["retry-after"] == "1"
    for internal in ("Traceback", "sqlalchemy", "asyncpg", "SELECT", "pg_sleep"):
        assert internal not in answer.text
    return body


async def test_a_statement_cancelled_by_statement_timeout_is_a_503(client: httpx.AsyncClient) -> None:
    body = assert_busy(await client.get("/test-only/sleep"))
    assert "took too long" in body["detail"]
    # The pool's one connection came back, rolled back and usable.
    assert (await client.get("/test-only/quick")).json() == {"one": 1}


async def test_a_wait_cancelled_by_lock_timeout_is_a_503(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    async with engine.connect() as holder, holder.begin():
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        body = assert_busy(await client.get("/test-only/lock"))
    assert "lock" in body["detail"]
    assert (await client.get("/test-only/lock")).json() == {"locked": "yes"}


async def test_no_free_connection_in_time_is_a_503(client: httpx.AsyncClient, tight_app: Litestar) -> None:
    held = tight_app.state.held = asyncio.Event()
    release = tight_app.state.release = asyncio.Event()
    holding = asyncio.create_task(client.get("/test-only/hold"))
    try:
        await held.wait()
        body = assert_busy(await client.get("/test-only/quick"))
        assert "connection" in body["detail"]
    finally:
        release.set()
    assert (await holding).json() == {"held": "yes"}
    assert (await client.get("/test-only/quick")).json() == {"one": 1}


async def test_many_requests_on_an_exhausted_pool_are_503s_never_500s(
    client: httpx.AsyncClient, tight_app: Litestar
) -> None:
    """T-R6 in small: 30 concurrent requests on a pool of one; one holds it, 29 give up after the pool timeout."""
    held = tight_app.state.held = asyncio.Event()
    release = tight_app.state.release = asyncio.Event()
    pending = {asyncio.create_task(client.get("/test-only/hold")) for _ in range(30)}
    finished: set[asyncio.Task[httpx.Response]] = set()
    try:
        await held.wait()
        while len(pending) > 1:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finished |= done
    finally:
        release.set()
    await asyncio.gather(*pending)
    answers = [task.result() for task in finished | pending]
    assert sorted(answer.status_code for answer in answers) == [200] + [503] * 29
    for answer in answers:
        if answer.status_code == 503:
            assert_busy(answer)
