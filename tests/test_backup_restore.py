"""Backup and restore as docs/deploy.md tells an operator to do it, on a small city: pg_dump (custom format),
pg_restore into an empty database, then the integrity checks: every table's rows the same, the migrations'
revision the same, the permits history's and the access log's hash chains and anchors verifying, their append-only
triggers in place.

pg_dump must be the server's major version (an older one refuses a newer server; a newer one writes archives an
older pg_restore cannot read): the machine's /usr/lib/postgresql/N, the embedded server's own (pgserver ships
its binaries), or PATH's. `make backup-check` runs this file alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.db import create_engine, create_sessionmaker, drop_database, recreate_database, transaction
from core.settings import DatabaseSettings, Settings
from flexreg.demo import build_demo_city
from permits import anchors, history_verify
from registry import access_log, access_log_anchors
from tests.clock import START
from tests.conftest import migrated_database
from tests.permits.history_builders import LocalSigner
from tests.registry.test_access_log import log_reads

SOURCE = f"flexreg_backup_source_{os.getpid()}"
RESTORED = f"flexreg_backup_restored_{os.getpid()}"
CITY = "Asia/Shanghai"


def _major(binary: Path) -> int | None:
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\) (\d+)", version.stdout)
    return int(found.group(1)) if found else None


def client_binaries(server_major: int) -> tuple[Path, Path] | None:
    """pg_dump and pg_restore of the server's major version, or None when this machine has none."""
    import pgserver

    candidates = [
        Path(f"/usr/lib/postgresql/{server_major}/bin"),
        Path(pgserver.__file__).parent / "pginstall" / "bin",
        *(Path(found).parent for found in [shutil.which("pg_dump")] if found),
    ]
    for directory in candidates:
        dump, restore = directory / "pg_dump", directory / "pg_restore"
        if dump.exists() and restore.exists() and _major(dump) == server_major == _major(restore):
            return dump, restore
    return None


async def _server_major(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SHOW server_version_num")) // 10000
    finally:
        await connection.close()


@pytest.fixture
async def source_and_restored(server_url: str, settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    binaries = client_binaries(await _server_major(server_url))
    if binaries is None:
        pytest.skip(f"no pg_dump/pg_restore of the server's major version ({await _server_major(server_url)})")
    dump, restore = binaries
    source = await migrated_database(server_url, SOURCE)
    try:
        engine = create_engine(settings, source)
        try:
            await build_demo_city(
                create_sessionmaker(engine), msgspec.structs.replace(settings, db=DatabaseSettings(url=source))
            )
            await _read_and_anchor(create_sessionmaker(engine), settings)
        finally:
            await engine.dispose()
        archive = tmp_path / "flexreg.dump"
        # The commands docs/deploy.md gives: the custom format, restored without owners into an empty database.
        await asyncio.to_thread(
            subprocess.run,
            [dump, "--format=custom", f"--file={archive}", f"--dbname={source}"],
            check=True,
            timeout=300,
        )
        restored = await recreate_database(server_url, RESTORED)
        await asyncio.to_thread(
            subprocess.run,
            [restore, "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={restored}", archive],
            check=True,
            timeout=300,
        )
        yield source, restored
    finally:
        await drop_database(server_url, RESTORED)
        await drop_database(server_url, SOURCE)


async def _read_and_anchor(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Staff reads in the access log, and the day's anchor of both chains, so the restore has them to verify."""
    signer = LocalSigner()
    async with sessionmaker.begin() as session:
        await log_reads(session, settings, 3)
    async with sessionmaker.begin() as session:
        assert await anchors.publish_anchor(session, signer, now=START, timezone=CITY) is not None
        assert await access_log_anchors.publish_anchor(session, signer, now=START, timezone=CITY) is not None


async def table_fingerprints(url: str) -> dict[str, tuple[int, str | None]]:
    """Each table's row count and a digest of its rows in a fixed order (schema public and procrastinate)."""
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        found = {}
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            count, digest = await connection.fetchrow(
                f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {name} t"
            )
            found[name] = (count, digest)
        return found
    finally:
        await connection.close()


async def _verdict(engine: AsyncEngine) -> history_verify.Verdict:
    async with transaction(create_sessionmaker(engine)) as session:
        kept = await anchors.all_anchors(session)
        return await history_verify.verify_history(session, anchors=kept)


async def _access_verdict(engine: AsyncEngine) -> access_log.Verdict:
    async with transaction(create_sessionmaker(engine)) as session:
        kept = await access_log_anchors.all_anchors(session)
        return await access_log.verify_access_log(session, anchors=kept)


async def test_a_restored_backup_holds_the_same_city_and_its_history_verifies(
    source_and_restored: tuple[str, str], settings: Settings
) -> None:
    source, restored = source_and_restored
    before, after = await table_fingerprints(source), await table_fingerprints(restored)
    assert after == before
    assert before['"public"."permits_history"'][0] > 0, "the demo city wrote no history: the chain check proves nothing"
    assert before['"public"."registry_vendor"'][0] > 0
    assert before['"public"."alembic_version"'] == after['"public"."alembic_version"']

    engine = create_engine(settings, restored)
    try:
        verdict = await _verdict(engine)
        assert verdict.intact, verdict.summary()
        assert verdict.rows == before['"public"."permits_history"'][0]
        assert verdict.anchors_checked == 1
        access = await _access_verdict(engine)
        assert access.intact, access.summary()
        assert (access.rows, access.anchors_checked) == (before['"public"."registry_personal_data_access"'][0], 1)
        with pytest.raises(DBAPIError, match="registry_access_log_anchor is append-only: DELETE refused"):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM registry_access_log_anchor"))
        # The append-only triggers came along: the restored history refuses an edit.
        with pytest.raises(DBAPIError, match="permits_history is append-only: UPDATE refused"):
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE permits_history SET event = event WHERE seq = 1"))
        # And the check can fail: an edit made with the triggers off (as a superuser could) is found.
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text("UPDATE permits_history SET actor_role = 'admin' WHERE seq = 1"))
        tampered = await _verdict(engine)
        assert not tampered.intact
        assert tampered.finding is not None
        assert (tampered.finding.seq, tampered.finding.problem) == (1, "altered")
    finally:
        await engine.dispose()
