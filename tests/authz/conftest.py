"""One canary world for the whole matrix module: building it costs far more than the requests of a row.

The module gets one connection in an outer transaction (rolled back at the end, as every test's is); the world
is committed into it once, and every cell runs in a savepoint of its own that is rolled back after it, so no
cell sees what another wrote.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from core.chain_queue import ChainingSession
from core.settings import Settings
from flexreg.app import application_state

from .world import World, make_world


@pytest.fixture(scope="module")
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Overrides tests/conftest.py's per-test connection: the module's, rolled back after its last test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture(scope="module")
async def world(connection: AsyncConnection, settings: Settings, shared_app: Litestar) -> World:
    maker = async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
        sync_session_class=ChainingSession,
    )
    shared_app.state = application_state(settings, sessionmaker=maker)
    transport = httpx.ASGITransport(app=shared_app)
    async with maker() as session, httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await make_world(session, settings, client)
