"""The personal-data access log as a hash chain: append-only, and any edit, removal or swap named by the
verifier at its row (RELIABILITY.md T-L1, T-L2, T-P8); the migration chains rows logged before the chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from core.auth import Principal
from core.chain_queue import QueuedRow, flush_chains
from core.db import drop_database, recreate_database, sqlalchemy_url
from core.settings import Settings
from registry.access import record_personal_data_access
from registry.access_log import clear_purposes, verify_access_log
from registry.models import PersonalDataAccess
from tests.permits.history_builders import tamper
from tests.registry.builders import make_account, make_jurisdiction, make_vendor
from tests.test_migrations import _config

TABLE = "registry_personal_data_access"
AT = dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC)


async def log_reads(session: AsyncSession, settings: Settings, count: int) -> list[int]:
    """`count` chained rows, one read each, by one street office of one vendor per row."""
    home = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=home.code)
    principal = Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code)
    queued: list[QueuedRow] = []
    for index in range(count):
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code)
        queued += await record_personal_data_access(
            session,
            principal=principal,
            vendor_ids=[vendor.id],
            fields=("name", "id_number_masked"),
            purpose=f"case {index}",
            request_path=f"/api/v1/vendors/{vendor.id}",
            request_id=str(uuid.uuid4()),
            at=AT + dt.timedelta(minutes=index),
        )
    await flush_chains(session)
    return [row.seq for row in queued]


async def test_reads_chain_in_order_and_verify(session: AsyncSession, settings: Settings) -> None:
    seqs = await log_reads(session, settings, 4)
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    rows = (await session.scalars(select(PersonalDataAccess).where(PersonalDataAccess.seq >= seqs[0]))).all()
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    verdict = await verify_access_log(session)
    assert verdict.intact, verdict.summary()
    assert verdict.head_seq == seqs[-1] == verdict.rows
    assert "verifies" in verdict.summary()


async def test_one_statement_chains_a_page_of_vendors(session: AsyncSession, settings: Settings) -> None:
    home = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=home.code)
    vendors = [await make_vendor(session, settings, residence_jurisdiction_code=home.code) for _ in range(3)]
    principal = Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code)
    queued = await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[v.id for v in vendors] + [vendors[0].id],
        fields=("name",),
        purpose="list",
        request_path="/api/v1/vendors",
    )
    await flush_chains(session)
    seqs = [row.seq for row in queued]
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    logged = await session.scalars(select(PersonalDataAccess.vendor_id).where(PersonalDataAccess.seq.in_(seqs)))
    assert set(logged) == {v.id for v in vendors}
    assert (await verify_access_log(session)).intact


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE {table} SET purpose = 'other' WHERE seq = :seq", "UPDATE"),
        ("UPDATE {table} SET fields = '{{phone}}' WHERE seq = :seq", "UPDATE"),
        # Clearing the purpose is retention's change, but only with nothing else changed alongside.
        ("UPDATE {table} SET purpose = NULL, purpose_salt = NULL, role = 'admin' WHERE seq = :seq", "UPDATE"),
        ("DELETE FROM {table} WHERE seq = :seq", "DELETE"),
        ("TRUNCATE {table} CASCADE", "TRUNCATE"),
    ],
)
async def test_the_log_refuses_update_delete_and_truncate(
    session: AsyncSession, settings: Settings, statement: str, operation: str
) -> None:
    """T-L1 as the table owner: the trigger raises 42501, and the row is as it was."""
    [seq] = await log_reads(session, settings, 1)
    with pytest.raises(DBAPIError) as refused:
        async with session.begin_nested():
            await session.execute(text(statement.format(table=TABLE)), {"seq": seq})
    cause: Any = refused.value.orig.__cause__  # type: ignore[union-attr]
    assert cause.sqlstate == "42501"
    assert f"{TABLE} is append-only: {operation} refused" in str(cause)
    purpose = await session.scalar(select(PersonalDataAccess.purpose).where(PersonalDataAccess.seq == seq))
    assert purpose == "case 0"


async def test_clearing_purposes_keeps_the_chain_valid(session: AsyncSession, settings: Settings) -> None:
    """T-P8: retention clears the free text; the chain, over its salted digest, still verifies."""
    seqs = await log_reads(session, settings, 3)
    before = await verify_access_log(session)
    cleared = await clear_purposes(session, before=AT + dt.timedelta(minutes=2))
    assert cleared >= 2
    rows = (await session.execute(select(PersonalDataAccess).where(PersonalDataAccess.seq.in_(seqs)))).scalars()
    purposes = {row.seq: (row.purpose, row.purpose_salt is None) for row in rows}
    assert purposes == {seqs[0]: (None, True), seqs[1]: (None, True), seqs[2]: ("case 2", False)}
    after = await verify_access_log(session)
    assert after.intact, after.summary()
    assert (after.rows, after.head_hash) == (before.rows, before.head_hash)
    assert after.purposes_cleared >= before.purposes_cleared + 2


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE {table} SET fields = '{{id_number}}' WHERE seq = :k", "altered"),
        (
            "UPDATE {table} SET account_id = (SELECT account_id FROM registry_vendor WHERE id = vendor_id) "
            "WHERE seq = :k",
            "altered",
        ),
        ("UPDATE {table} SET accessed_at = accessed_at + interval '1 microsecond' WHERE seq = :k", "altered"),
        ("UPDATE {table} SET purpose = 'nothing to see' WHERE seq = :k", "purpose_altered"),
        ("UPDATE {table} SET purpose_salt = sha256(purpose_salt) WHERE seq = :k", "purpose_altered"),
        ("DELETE FROM {table} WHERE seq = :k", "missing"),
        # Swap two rows' places: each then follows the wrong predecessor.
        (
            "UPDATE {table} SET seq = 1000000000 WHERE seq = :k; "
            "UPDATE {table} SET seq = :k WHERE seq = :k + 1; UPDATE {table} SET seq = :k + 1 WHERE seq = 1000000000",
            "broken_link",
        ),
    ],
)
async def test_tampering_as_superuser_is_named_at_its_row(
    session: AsyncSession, settings: Settings, sql: str, problem: str
) -> None:
    """T-L2: with the trigger disabled, one change to row k; the verifier names row k."""
    seqs = await log_reads(session, settings, 4)
    k = seqs[1]
    for statement in sql.format(table=TABLE).split("; "):
        await tamper(session, statement, table=TABLE, k=k)
    verdict = await verify_access_log(session, batch=2)
    assert verdict.finding is not None, verdict.summary()
    assert (verdict.finding.seq, verdict.finding.problem) == (k, problem)
    assert verdict.rows == k - 1
    assert f"row {k}" in verdict.summary()


async def test_the_migration_chains_rows_logged_before_the_chain(server_url: str, settings: Settings) -> None:
    name = f"flexreg_access_log_migration_{os.getpid()}"
    url = await recreate_database(server_url, name)
    config = _config(url)
    try:
        await asyncio.to_thread(command.upgrade, config, "0012")
        engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO registry_jurisdiction (code, name, boundary, min_lon, min_lat, max_lon, max_lat) "
                        "VALUES ('110101001000', 'J', '{}', 0, 0, 1, 1)"
                    )
                )
                accounts = [uuid.uuid4() for _ in range(2)]
                for account in accounts:
                    await connection.execute(
                        text(
                            "INSERT INTO registry_account (id, username, password_hash, role) "
                            "VALUES (:id, :u, 'x', 'vendor')"
                        ),
                        {"id": account, "u": account.hex},
                    )
                vendor = uuid.uuid4()
                await connection.execute(
                    text(
                        "INSERT INTO registry_vendor (id, account_id, name, id_number_encrypted, id_number_hmac, "
                        "id_number_masked, birth_on, sex, phone_encrypted, phone_masked, residence_jurisdiction_code) "
                        "VALUES (:id, :account, 'n', '\\x00', '\\x01', 'm', '1990-01-01', 'male', '\\x00', 'p', "
                        "'110101001000')"
                    ),
                    {"id": vendor, "account": accounts[0]},
                )
                for index in range(3):
                    await connection.execute(
                        text(
                            f"INSERT INTO {TABLE} (accessed_at, account_id, role, vendor_id, fields, purpose, "
                            "request_path) VALUES (:at, :account, 'street_office', :vendor, '{name}', :purpose, '/x')"
                        ),
                        {
                            "at": AT + dt.timedelta(seconds=index),
                            "account": accounts[1],
                            "vendor": vendor,
                            "purpose": f"p{index}",
                        },
                    )
            await asyncio.to_thread(command.upgrade, config, "head")
            async with engine.connect() as connection:
                session = AsyncSession(bind=connection)
                verdict = await verify_access_log(session)
                seqs = (await session.execute(text(f"SELECT seq, purpose FROM {TABLE} ORDER BY id"))).all()
                await session.close()
        finally:
            await engine.dispose()
        assert verdict.intact, verdict.summary()
        assert verdict.rows == 3
        assert [tuple(row) for row in seqs] == [(1, "p0"), (2, "p1"), (3, "p2")]
    finally:
        await drop_database(server_url, name)
