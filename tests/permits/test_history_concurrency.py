"""The history under real concurrency (T-L3), and `flexreg verify-audit` against a committed history.

Separate connections to a scratch database of their own: appends commit, and the rows they leave can only be
removed by the table owner with the triggers off, which the fixtures do between tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.db import create_sessionmaker, drop_database, sqlalchemy_url
from core.pagination import Page
from flexreg.cli import main
from permits import anchors
from permits.history import SYSTEM, append_history
from permits.history_verify import verify_history
from tests.clock import START
from tests.conftest import migrated_database, scratch_name, wipe_append_only
from tests.permits.history_builders import REVIEWER, LocalSigner, append_rows

IN_FLIGHT = 24  # connections at once: the server is shared, 200 would pass its max_connections


@pytest.fixture(scope="module")
async def scratch_url(server_url: str) -> AsyncIterator[str]:
    name = scratch_name("flexreg_history")
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(scratch_url), pool_size=IN_FLIGHT, max_overflow=0)
    await wipe_append_only(engine, ("permits_history", "permits_history_anchor"))
    try:
        yield create_sessionmaker(engine)
    finally:
        await wipe_append_only(engine, ("permits_history", "permits_history_anchor"))
        await engine.dispose()


@pytest.mark.concurrency
async def test_concurrent_appends_make_one_chain(scratch: async_sessionmaker[AsyncSession]) -> None:
    """200 committed appends from many connections at once, with every tenth attempt rolled back after it
    appended: 200 rows, seq 1..200 without a gap, no two rows with one predecessor, and the chain verifies."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def attempt(index: int) -> None:
        async with gate, scratch() as session:
            await append_history(
                session,
                event="task_approved",
                actor=SYSTEM if index % 2 else REVIEWER,
                at=START + dt.timedelta(seconds=index),
                application_id=uuid.uuid4(),
                payload={"attempt": index},
            )
            if index % 10 == 9:
                await session.rollback()
            else:
                await session.commit()

    await asyncio.gather(*(attempt(index) for index in range(222)))
    async with scratch() as session:
        seqs = (await session.scalars(text("SELECT seq FROM permits_history ORDER BY seq"))).all()
        assert seqs == list(range(1, 201))
        rows, predecessors, last = (
            await session.execute(text("SELECT count(*), count(DISTINCT prev_hash), max(seq) FROM permits_history"))
        ).one()
        assert (rows, predecessors, last) == (200, 200, 200)
        attempts = set((await session.scalars(text("SELECT (payload->>'attempt')::int FROM permits_history"))).all())
        assert attempts == {index for index in range(222) if index % 10 != 9}
        verdict = await verify_history(session, batch=64)
    assert verdict.intact
    assert verdict.rows == 200


@pytest.mark.concurrency
async def test_one_anchor_per_day_whoever_publishes(scratch: async_sessionmaker[AsyncSession]) -> None:
    async with scratch() as session:
        await append_rows(session, 3)
        await session.commit()
    signers = [LocalSigner(kid=f"worker-{index}") for index in range(8)]

    async def publish(signer: LocalSigner) -> anchors.Anchor | None:
        async with scratch() as session:
            anchor = await anchors.publish_anchor(session, signer, now=START, timezone="Asia/Shanghai")
            await session.commit()
            return anchor

    published = [anchor for anchor in await asyncio.gather(*(publish(s) for s in signers)) if anchor is not None]
    assert len(published) == 1
    async with scratch() as session:
        (stored,) = await anchors.all_anchors(session)
    assert stored == published[0]
    assert stored.seq == 3


async def _seed(url: str, signer: LocalSigner) -> bytes:
    """Five rows and today's anchor, committed; returns the anchors as GET /history-anchors would."""
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with create_sessionmaker(engine)() as session:
            await append_rows(session, 5)
            anchor = await anchors.publish_anchor(session, signer, now=START, timezone="Asia/Shanghai")
            await session.commit()
        return msgspec.json.encode(Page(items=[anchor], next_cursor=None))
    finally:
        await engine.dispose()


async def _as_superuser(url: str, *statements: str) -> None:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as connection:
            for table in ("permits_history", "permits_history_anchor"):
                await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for statement in statements:
                await connection.execute(text(statement))
            for table in ("permits_history", "permits_history_anchor"):
                await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    finally:
        await engine.dispose()


def test_verify_audit_command(
    scratch: async_sessionmaker[AsyncSession],
    scratch_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", scratch_url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    signer = LocalSigner(kid="history-2026-06")
    kept = tmp_path / "anchors.json"
    kept.write_bytes(asyncio.run(_seed(scratch_url, signer)))
    jwks = tmp_path / "jwks.json"
    x = anchors.b64url(signer.public_key.public_bytes_raw())
    jwks.write_text(f'{{"keys": [{{"kty": "OKP", "crv": "Ed25519", "kid": "{signer.kid}", "x": "{x}"}}]}}')

    assert main(["verify-audit", "--anchors", str(kept), "--keys", str(jwks)]) == 0
    out = capsys.readouterr().out
    assert "the history verifies: 5 rows, head seq 5 " in out
    assert "1 anchor agrees" in out

    # The tail cut, and the table's own anchor removed with it: only the copy kept outside catches it.
    asyncio.run(
        _as_superuser(scratch_url, "DELETE FROM permits_history WHERE seq >= 4", "DELETE FROM permits_history_anchor")
    )
    assert main(["verify-audit"]) == 0
    capsys.readouterr()
    assert main(["verify-audit", "--anchors", str(kept)]) == 1
    assert "ends at row 3 but the anchor of 2026-06-15 names row 5: truncated" in capsys.readouterr().err

    asyncio.run(_as_superuser(scratch_url, "UPDATE permits_history SET payload = '{\"step\": 7}' WHERE seq = 2"))
    assert main(["verify-audit"]) == 1
    assert "row 2 was altered" in capsys.readouterr().err

    kept.write_text("not json")
    assert main(["verify-audit", "--anchors", str(kept)]) == 2
    assert "anchors.json" in capsys.readouterr().err
