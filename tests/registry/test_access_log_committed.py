"""The access log with committed rows in a scratch database: concurrent staff reads chain without a fork (T-L3),
and `flexreg verify-audit` verifies the log beside the permits history, names a tampered row and, against the
day's anchor kept outside, a cut tail."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from core.auth import Principal
from core.chain_anchors import Anchor, b64url
from core.db import create_sessionmaker, drop_database, sqlalchemy_url
from core.settings import Settings
from flexreg.cli import main
from registry import access_log_anchors
from registry.access import record_personal_data_access
from registry.access_log import verify_access_log
from tests.clock import START
from tests.conftest import migrated_database
from tests.permits.history_builders import LocalSigner
from tests.registry.builders import make_account, make_jurisdiction, make_vendor

CITY = "Asia/Shanghai"
IN_FLIGHT = 16  # the server is shared by several checkouts


@pytest.fixture(scope="module")
async def scratch_url(server_url: str) -> AsyncIterator[str]:
    name = f"flexreg_access_log_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    yield await migrated_database(server_url, name)
    await drop_database(server_url, name)


async def _reads(url: str, settings: Settings, count: int) -> None:
    """`count` staff reads at once, each in its own committed transaction."""
    engine = create_async_engine(sqlalchemy_url(url), pool_size=IN_FLIGHT, max_overflow=0)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            home = await make_jurisdiction(session)
            staff = await make_account(session, "street_office", jurisdiction_code=home.code)
            vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code)
            await session.commit()
        principal = Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code)

        async def read(index: int) -> None:
            async with sessions() as session:
                await record_personal_data_access(
                    session,
                    principal=principal,
                    vendor_ids=[vendor.id],
                    fields=("name",),
                    purpose=f"read {index}",
                    request_path="/api/v1/vendors",
                )
                await session.commit()

        await asyncio.gather(*(read(index) for index in range(count)))
    finally:
        await engine.dispose()


async def _count_and_verify(url: str) -> tuple[int, int, int, bool]:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with AsyncSession(engine) as session:
            rows, links, top = (
                await session.execute(
                    text("SELECT count(*), count(DISTINCT prev_hash), max(seq) FROM registry_personal_data_access")
                )
            ).one()
            verdict = await verify_access_log(session)
        return rows, links, top, verdict.intact
    finally:
        await engine.dispose()


async def _as_superuser(url: str, statement: str, table: str = "registry_personal_data_access") -> None:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            await connection.execute(text(statement))
            await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    finally:
        await engine.dispose()


def _jwks(directory: Path, signer: LocalSigner) -> Path:
    path = directory / f"jwks-{id(signer)}.json"
    x = b64url(signer.public_key.public_bytes_raw())
    path.write_text(f'{{"keys": [{{"kty": "OKP", "crv": "Ed25519", "kid": "{signer.kid}", "x": "{x}"}}]}}')
    return path


async def _publish_anchor(url: str, signer: LocalSigner) -> Anchor:
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with create_sessionmaker(engine).begin() as session:
            anchor = await access_log_anchors.publish_anchor(session, signer, now=START, timezone=CITY)
        assert anchor is not None
        return anchor
    finally:
        await engine.dispose()


def test_concurrent_reads_chain_without_a_fork_and_verify_audit_checks_the_log(
    scratch_url: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_reads(scratch_url, settings, 48))
    assert asyncio.run(_count_and_verify(scratch_url)) == (48, 48, 48, True)

    monkeypatch.setenv("DATABASE_URL", scratch_url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    assert main(["verify-audit"]) == 0
    out = capsys.readouterr().out
    assert "the personal-data access log verifies: 48 rows, head seq 48 " in out
    assert "the history verifies" in out

    # Rows deleted from the log's end chain still; the day's anchor, kept outside, catches them.
    signer = LocalSigner()
    kept = tmp_path / "access-log-anchors.json"
    anchor = asyncio.run(_publish_anchor(scratch_url, signer))
    kept.write_bytes(msgspec.json.encode([anchor]))
    assert main(["verify-audit", "--access-anchors", str(kept), "--keys", str(_jwks(tmp_path, signer))]) == 0
    assert "the personal-data access log verifies: 48 rows" in capsys.readouterr().out
    assert main(["verify-audit", "--access-anchors", str(kept), "--keys", str(_jwks(tmp_path, LocalSigner()))]) == 1
    assert "(row 48) has a signature that does not hold" in capsys.readouterr().err
    # A saved first page whose cursor was not followed is checked, and said to be partial.
    page = tmp_path / "first-page.json"
    page.write_bytes(msgspec.json.encode({"items": [anchor], "next_cursor": "more"}))
    assert main(["verify-audit", "--access-anchors", str(page), "--access-anchors", str(kept)]) == 0
    assert "first-page.json is one page of several" in capsys.readouterr().err
    asyncio.run(_as_superuser(scratch_url, "DELETE FROM registry_personal_data_access WHERE seq > 40"))
    asyncio.run(_as_superuser(scratch_url, "DELETE FROM registry_access_log_anchor", "registry_access_log_anchor"))
    assert main(["verify-audit"]) == 0
    capsys.readouterr()
    assert main(["verify-audit", "--access-anchors", str(kept)]) == 1
    err = capsys.readouterr().err
    assert "the personal-data access log does not verify: the chain ends at row 40" in err
    assert "names row 48: truncated" in err
    (tmp_path / "garbage.json").write_text("{")
    assert main(["verify-audit", "--access-anchors", str(tmp_path / "garbage.json")]) == 2

    asyncio.run(
        _as_superuser(scratch_url, "UPDATE registry_personal_data_access SET fields = '{phone}' WHERE seq = 17")
    )
    assert main(["verify-audit"]) == 1
    err = capsys.readouterr().err
    assert "the personal-data access log does not verify: row 17 was altered" in err
