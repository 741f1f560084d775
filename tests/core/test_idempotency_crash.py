"""T-I9: an Idempotency-Key's result commits with the business write, so a crash keeps both or neither."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar, post
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from core.auth import Principal
from core.chain_queue import ChainingSession
from core.deps import DbSession
from core.errors import EXCEPTION_HANDLERS
from core.idempotency import IdempotencyMiddleware, remember_response
from core.idempotency_keys import IdempotencyKey
from core.settings import Settings
from flexreg.app import application_state, provide_session
from registry.models import Account, Jurisdiction
from tests.builders import auth_headers
from tests.core.test_idempotency import URL, establish, headers_for, new_key
from tests.problems import assert_problem
from tests.registry.builders import jurisdiction_code, make_account, make_jurisdiction


@pytest.fixture
async def admin(session: AsyncSession) -> Account:
    account = await make_account(session, "admin")
    await session.commit()
    return account


class _Watched(ChainingSession):
    """Sessions whose commits the test below inspects (a class of its own, so the listener stays local)."""


async def test_the_stored_result_commits_in_the_business_transaction(
    own_app: Litestar, connection: AsyncConnection, settings: Settings, admin: Account
) -> None:
    code, key = jurisdiction_code(), new_key()
    # What each commit is about to make durable: does the street exist, and in what state is the key?
    seen: list[tuple[int, str | None]] = []

    @event.listens_for(_Watched, "before_commit")
    def inspect(watched: Session) -> None:
        created = watched.scalar(select(func.count()).select_from(Jurisdiction).where(Jurisdiction.code == code))
        state = watched.scalar(select(IdempotencyKey.state).where(IdempotencyKey.key == key))
        seen.append((int(created or 0), state))

    try:
        maker = async_sessionmaker(
            bind=connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
            sync_session_class=_Watched,
        )
        own_app.state = application_state(settings, sessionmaker=maker)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://t") as client:
            first = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
            assert first.status_code == 201, first.text
            committed = list(seen)
            replay = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    finally:
        event.remove(_Watched, "before_commit", inspect)
    # The claim commits alone (a concurrent retry must see it); the street and the completion commit together.
    # A crash at any point therefore leaves no street with its key still in progress.
    assert committed == [(0, "in_progress"), (1, "completed")]
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    assert replay.headers["location"] == first.headers["location"]


async def test_an_attempt_whose_key_was_taken_over_is_rolled_back(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    """An attempt that outlived its lease must not commit: the retry that took the key over executes instead."""

    @post("/streets", status_code=201)
    async def create(session: DbSession) -> dict[str, str]:
        street = await make_jurisdiction(session)
        # Meanwhile the lease ran out and a retry took the key over (here within this very transaction).
        await session.execute(
            update(IdempotencyKey).values(locked_until=IdempotencyKey.locked_until + dt.timedelta(seconds=60))
        )
        return {"code": street.code}

    app = Litestar(
        route_handlers=[create],
        dependencies={"session": Provide(provide_session)},
        middleware=[IdempotencyMiddleware],
        after_request=remember_response,
        state=State({"settings": settings, "sessionmaker": sessionmaker}),
        exception_handlers=EXCEPTION_HANDLERS,
    )
    caller = Principal(account_id=uuid.uuid4(), role="admin")
    key = new_key()
    streets_before = await session.scalar(select(func.count()).select_from(Jurisdiction))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/streets", headers={"Idempotency-Key": key, **auth_headers(settings, caller)})
    assert_problem(response, 409, "idempotency_key_in_progress")
    assert response.headers["retry-after"] == "1"
    assert await session.scalar(select(func.count()).select_from(Jurisdiction)) == streets_before
    # The row is left to whoever holds it now: not released, not completed with this attempt's refusal.
    assert await session.scalar(select(IdempotencyKey.state).where(IdempotencyKey.key == key)) == "in_progress"


async def test_a_crashed_attempt_is_executed_by_a_retry_after_its_lease(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin: Account
) -> None:
    """A process killed mid-request left its claim in progress and (its transaction gone) no street."""
    code, key = jurisdiction_code(), new_key()
    first = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert first.status_code == 201
    # Rewind to the crash: the business transaction never committed, the claim did, its lease has run out.
    await session.execute(delete(Jurisdiction).where(Jurisdiction.code == code))
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == key)
        .values(
            state="in_progress",
            response_status=None,
            response_headers=None,
            response_body=None,
            locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
        )
    )
    await session.commit()
    retry = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    replay = await client.post(URL, content=establish(code), headers=headers_for(settings, admin, key))
    assert replay.content == retry.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert await session.scalar(select(func.count()).select_from(Jurisdiction).where(Jurisdiction.code == code)) == 1


def test_the_lease_is_a_setting() -> None:
    env: dict[str, Any] = {"FLEXREG_SECRET_KEY": "00" * 32, "FLEXREG_DATA_KEY": "00" * 32}
    assert Settings.from_env(env).http.idempotency_lease_seconds == 60
    short = Settings.from_env({**env, "FLEXREG_IDEMPOTENCY_LEASE_SECONDS": "5"})
    assert short.http.idempotency_lease_seconds == 5
    for wrong in ("0", "-3", "soon"):
        with pytest.raises(ValueError, match="FLEXREG_IDEMPOTENCY_LEASE_SECONDS"):
            Settings.from_env({**env, "FLEXREG_IDEMPOTENCY_LEASE_SECONDS": wrong})
