"""Chain appends queued until COMMIT (core.chain_queue), on committed rows in a scratch database of their own.

An open transaction that has appended holds no chain lock, so another appender commits past it; a rollback (of
the transaction or of a savepoint) drops what it queued, leaving no row and no gap; one transaction writes
both chains, and many at once, in any queue order, take the two locks in one order and never deadlock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.auth import Principal
from core.chain_queue import flush_chains
from core.db import create_sessionmaker, drop_database, sqlalchemy_url
from core.settings import Settings
from permits.history import SYSTEM, append_history
from permits.history_verify import verify_history
from registry.access import record_personal_data_access
from registry.access_log import verify_access_log
from tests.clock import START
from tests.conftest import migrated_database, scratch_name, wipe_append_only
from tests.registry.builders import make_account, make_jurisdiction, make_vendor

IN_FLIGHT = 20  # connections at once: the server is shared by several checkouts
# A liveness bound, not a timing threshold: an appender that waits for another's lock waits until that one ends,
# which here is never before this bound (the holder only ends once the appender is through).
LIVENESS_SECONDS = 30
CHAINED = ("permits_history", "registry_personal_data_access")


@dataclasses.dataclass(frozen=True)
class Reader:
    principal: Principal
    vendor_id: uuid.UUID


@pytest.fixture(scope="module")
async def scratch_url(server_url: str) -> AsyncIterator[str]:
    name = scratch_name("flexreg_chain_queue")
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(scratch_url), pool_size=IN_FLIGHT, max_overflow=0)
    await wipe_append_only(engine, CHAINED)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def reader(scratch: async_sessionmaker[AsyncSession], settings: Settings) -> Reader:
    """A street office and a vendor of its jurisdiction, committed: whose reads the access log chains."""
    async with scratch() as session:
        home = await make_jurisdiction(session)
        staff = await make_account(session, "street_office", jurisdiction_code=home.code)
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code)
        await session.commit()
    return Reader(Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code), vendor.id)


async def _note(session: AsyncSession, mark: str) -> None:
    await append_history(session, event="noted", actor=SYSTEM, at=START, payload={"mark": mark})


async def _read(session: AsyncSession, reader: Reader, mark: str) -> None:
    await record_personal_data_access(
        session,
        principal=reader.principal,
        vendor_ids=[reader.vendor_id],
        fields=("name",),
        purpose=mark,
        request_path="/api/v1/vendors",
    )


async def _history(scratch: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    """Every history row's (seq, mark), in seq order, after checking that the chain verifies."""
    async with scratch() as session:
        verdict = await verify_history(session)
        assert verdict.intact, verdict.summary()
        rows = await session.execute(text("SELECT seq, payload->>'mark' FROM permits_history ORDER BY seq"))
        return [(seq, mark) for seq, mark in rows]


async def _access_log(scratch: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    """Every access-log row's (seq, purpose), in seq order, after checking that the chain verifies."""
    async with scratch() as session:
        verdict = await verify_access_log(session)
        assert verdict.intact, verdict.summary()
        rows = await session.execute(text("SELECT seq, purpose FROM registry_personal_data_access ORDER BY seq"))
        return [(seq, purpose) for seq, purpose in rows]


@pytest.mark.concurrency
@pytest.mark.parametrize("chain", ["history", "access_log"])
async def test_an_open_transaction_that_appended_holds_no_one_up(
    scratch: async_sessionmaker[AsyncSession], reader: Reader, chain: str
) -> None:
    """A appends and stays open (a handler still at work); B appends and commits meanwhile; then A commits.

    With the chain's lock taken at the append, B would wait for A's end, which comes only after B: the bound
    below would run out. Queued, A holds nothing until its own COMMIT, and the rows chain in commit order."""

    async def append(session: AsyncSession, mark: str) -> None:
        if chain == "history":
            await _note(session, mark)
        else:
            await _read(session, reader, mark)

    async with scratch() as first:
        await first.execute(text("SELECT 1"))  # A's transaction is under way on the server
        await append(first, "A")

        async def second() -> None:
            async with scratch() as session:
                await append(session, "B")
                await session.commit()

        await asyncio.wait_for(second(), timeout=LIVENESS_SECONDS)
        assert first.in_transaction()
        await first.commit()

    rows = await (_history(scratch) if chain == "history" else _access_log(scratch))
    assert rows == [(1, "B"), (2, "A")]


@pytest.mark.concurrency
async def test_a_rollback_drops_its_queue_and_leaves_no_gap(
    scratch: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    async with scratch() as session:
        await _note(session, "rolled back")
        await _read(session, reader, "rolled back")
        await session.rollback()
        # The session's next transaction starts with an empty queue: committing it writes nothing.
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert await _history(scratch) == []
    assert await _access_log(scratch) == []

    async with scratch() as session:
        await _note(session, "closed unfinished")
    async with scratch() as session:
        await _note(session, "kept")
        async with session.begin_nested() as savepoint:
            await _note(session, "in a savepoint rolled back")
            await savepoint.rollback()
        async with session.begin_nested():
            await _note(session, "in a savepoint released")
        await session.commit()
    async with scratch() as session:
        await _note(session, "next")
        await session.commit()
    assert await _history(scratch) == [(1, "kept"), (2, "in a savepoint released"), (3, "next")]


@pytest.mark.concurrency
async def test_a_session_closed_unfinished_carries_nothing_over(
    scratch: async_sessionmaker[AsyncSession],
) -> None:
    session = scratch()
    await _note(session, "closed unfinished")
    await session.close()
    # The same session object, used again: a new transaction, and the row queued before the close is gone.
    await _note(session, "after the close")
    await session.commit()
    await session.close()
    assert await _history(scratch) == [(1, "after the close")]


@pytest.mark.concurrency
async def test_one_transaction_writes_both_chains(scratch: async_sessionmaker[AsyncSession], reader: Reader) -> None:
    async with scratch() as session:
        await _note(session, "h1")
        await _read(session, reader, "a1")
        await _note(session, "h2")
        await session.commit()
    assert await _history(scratch) == [(1, "h1"), (2, "h2")]
    assert await _access_log(scratch) == [(1, "a1")]


@pytest.mark.concurrency
async def test_many_transactions_on_both_chains_take_the_locks_in_one_order(
    scratch: async_sessionmaker[AsyncSession], reader: Reader
) -> None:
    """40 transactions at once, each writing both chains: half queue the history first, half the access log,
    and some write one chain early (flush_chains) before queuing the other. None deadlocks (PostgreSQL would
    abort one with 40P01, raised here); both chains end with seq 1..40, no gap, and verify."""
    count = 40
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def attempt(index: int) -> None:
        mark = f"t{index}"
        steps = [_note, lambda session, mark: _read(session, reader, mark)]
        if index % 2:
            steps.reverse()
        async with gate, scratch() as session:
            await session.execute(text("SELECT 1"))
            await steps[0](session, mark)
            if index % 3 == 0:
                await flush_chains(session)
            await asyncio.sleep(0)  # let the others queue and commit in between
            await steps[1](session, mark)
            await session.commit()

    await asyncio.gather(*(attempt(index) for index in range(count)))
    history, access = await _history(scratch), await _access_log(scratch)
    assert [seq for seq, _ in history] == list(range(1, count + 1))
    assert [seq for seq, _ in access] == list(range(1, count + 1))
    assert {mark for _, mark in history} == {mark for _, mark in access} == {f"t{index}" for index in range(count)}


async def test_a_session_without_the_commit_hook_is_refused(engine: AsyncEngine) -> None:
    """A row queued on a session whose commit would not write it is refused at once, not lost at COMMIT."""
    async with AsyncSession(engine) as session:
        with pytest.raises(TypeError, match="create_sessionmaker"):
            await _note(session, "nowhere")


async def test_a_row_has_its_seq_once_written(session: AsyncSession, reader_in_session: Reader) -> None:
    [queued] = await record_personal_data_access(
        session,
        principal=reader_in_session.principal,
        vendor_ids=[reader_in_session.vendor_id],
        fields=("name",),
        purpose="seq",
        request_path="/api/v1/vendors",
    )
    with pytest.raises(RuntimeError, match="no seq"):
        _ = queued.seq
    await flush_chains(session)
    stored = await session.scalar(
        text("SELECT purpose FROM registry_personal_data_access WHERE seq = :seq"), {"seq": queued.seq}
    )
    assert stored == "seq"


@pytest.fixture
async def reader_in_session(session: AsyncSession, settings: Settings) -> Reader:
    home = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=home.code)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code)
    return Reader(Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code), vendor.id)


@pytest.mark.concurrency
async def test_rows_a_commit_with_a_savepoint_open_cannot_write_are_reported(
    scratch: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    """Committing the outermost transaction itself while a savepoint is open skips the before-commit write
    (nothing in the service does it); the rows it loses are logged as an error, never lost in silence."""
    async with scratch() as session:
        outer = await session.begin()
        await session.begin_nested()
        await _note(session, "lost")
        with caplog.at_level("ERROR", logger="core.chain_queue"):
            await outer.commit()
    assert "1 chained rows were never written" in caplog.text
