"""Real PostgreSQL for every test: migrations run once per session, each test rolls back."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.chain_queue import ChainingSession
from core.clock import FixedClock
from core.db import drop_database, recreate_database, sqlalchemy_url
from core.embedded_pg import start_embedded_postgres
from core.rate_limit_rules import parse_rate_limits
from core.settings import AuthSettings, DatabaseSettings, DataSettings, Settings
from flexreg.app import application_state, create_app
from tests.clock import START

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server: DATABASE_URL, or the embedded one under ./var/."""
    return os.environ.get("DATABASE_URL") or start_embedded_postgres(ROOT / "var")


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database per run (and xdist worker), migrated with the real Alembic revisions."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"flexreg_test_{worker}_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


async def migrated_database(server_url: str, name: str) -> str:
    """A new database on this server, migrated with the real Alembic revisions; returns its URL."""
    url = await recreate_database(server_url, name)
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    # env.py calls asyncio.run(); run it in a worker thread so it gets a loop of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
    return url


def scratch_name(prefix: str) -> str:
    """A database name of this test process's own (per xdist worker and pid), for a scratch database."""
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


async def wipe_append_only(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """Empty append-only tables, as their owner, with their triggers off for this transaction only."""
    async with engine.begin() as connection:
        for table in tables:
            await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await connection.execute(text(f"TRUNCATE {', '.join(tables)}"))
        for table in tables:
            await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


@pytest.fixture(scope="session")
def fixed_clock() -> FixedClock:
    """The one clock of the run; tests reach it through `clock`, which puts it back at START each time."""
    return FixedClock(START)


@pytest.fixture(autouse=True)
def clock(fixed_clock: FixedClock) -> Iterator[FixedClock]:
    """The settings' clock, at tests.clock.START (2026-06-15 10:00 in the city) when every test begins.

    `settings.today()` / `settings.now()` and every handler read it; move it with `clock.set(instant)` or
    `clock.advance(timedelta)`. (JWT expiry and idempotency leases run on real time: see core.auth.)
    """
    fixed_clock.set(START)
    yield fixed_clock
    fixed_clock.set(START)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, fixed_clock: FixedClock) -> Settings:
    return Settings(
        environment="development",
        var_dir=tmp_path_factory.mktemp("var"),
        timezone="Asia/Shanghai",
        db=DatabaseSettings(url=database_url, pool_size=5),
        auth=AuthSettings(secret_key=b"test-secret-key-" * 4),
        data=DataSettings(data_key=b"test-data-key-00" * 2),
        clock=fixed_clock,
        # Off for the suite (API.md: "for load tests and test suites"); tests/core/test_rate_limits.py turns them on.
        rate_limits=parse_rate_limits("off"),
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection in an outer transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions on the test's connection: code under test may commit; it only releases a savepoint."""
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
        sync_session_class=ChainingSession,
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture(scope="session")
def shared_app(settings: Settings) -> Litestar:
    """One app for the run (building one costs about half a second); `app` gives each test a fresh state."""
    return create_app(settings, sessionmaker=async_sessionmaker())


@pytest.fixture
def app(shared_app: Litestar, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Litestar:
    """The app on this test's rolled-back connection, with nothing cached from an earlier test.

    A test that changes the app itself (registers a route) takes `own_app` instead.
    """
    shared_app.state = application_state(settings, sessionmaker=sessionmaker)
    return shared_app


@pytest.fixture
def own_app(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Litestar:
    """An app of this test's own, to change (register a route on) without touching the shared one."""
    return create_app(settings, sessionmaker=sessionmaker)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app driven in this test's event loop (Litestar's AsyncTestClient runs it in another thread's loop)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests (tests/e2e) run last: Playwright's sync API keeps an event loop running in the main
    thread from its first use to the end of the session, and no async test can run after that."""
    items.sort(key=lambda item: "e2e" in item.path.parts)
