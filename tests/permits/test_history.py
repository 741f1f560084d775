"""The history: appends chain in the caller's transaction, the canonical encoding, what it refuses, the
append-only triggers (T-L1) and an application's page of it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, get_args

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stdnum.cn.ric import calc_check_digit

from core import pagination
from core.auth import ROLES, Principal
from core.chain_queue import flush_chains
from core.hash_chain import GENESIS, chain_hash
from core.pagination import InvalidCursor
from core.settings import Settings
from permits import anchors
from permits.history import (
    SYSTEM,
    Actor,
    PersonalDataInHistory,
    append_history,
    application_history,
    canonical_row,
    entry_row,
)
from permits.history_models import ActorRole, HistoryEntry
from registry.id_numbers import normalise_id_number
from tests.clock import START
from tests.permits.history_builders import REVIEWER, LocalSigner, append_rows, tamper


def _independent_row(entry: HistoryEntry) -> bytes:
    """The canonical row as the module docstring specifies it, spelled with the standard library's json."""
    document = {
        "actor": {
            "account_id": None if entry.actor_account_id is None else str(entry.actor_account_id),
            "role": entry.actor_role,
        },
        "application_id": None if entry.application_id is None else str(entry.application_id),
        "at": entry.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "event": entry.event,
        "payload": entry.payload,
        "permit_number": entry.permit_number,
        "seq": entry.seq,
        "task_id": None if entry.task_id is None else str(entry.task_id),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def test_rows_chain_from_the_genesis_hash(session: AsyncSession) -> None:
    first, second, third = await append_rows(session, 3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS == bytes(32)
    assert second.prev_hash == first.row_hash
    assert third.prev_hash == second.row_hash
    for entry in (first, second, third):
        assert entry.row_hash == hashlib.sha256(entry.prev_hash + _independent_row(entry)).digest()


async def test_the_hash_covers_the_row_as_stored(session: AsyncSession) -> None:
    """Read back from the database (jsonb payload, timestamptz in UTC), a row hashes as it did when written."""
    await append_history(
        session,
        event="permit_issued",
        actor=REVIEWER,
        at=dt.datetime(2026, 6, 15, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        permit_number="京东城2026-000123",
        payload={"z": [1, None, "é"], "a": {"nested": -(2**63)}, "长": True},
    )
    await flush_chains(session)
    session.expunge_all()
    stored = (await session.scalars(select(HistoryEntry))).one()
    assert stored.at.tzinfo is not None
    assert chain_hash(stored.prev_hash, entry_row(stored)) == stored.row_hash
    assert entry_row(stored) == _independent_row(stored)
    assert b'"at":"2026-06-15T02:00:00.123456Z"' in entry_row(stored)


def test_the_canonical_row_is_one_spelling() -> None:
    row = canonical_row(
        seq=7,
        event="task_approved",
        actor=SYSTEM,
        at=START,
        application_id=uuid.UUID("7c1f4e2a-3b5d-4a6e-8f90-1a2b3c4d5e61"),
        task_id=None,
        permit_number=None,
        payload={"b": 2, "a": 1},
    )
    assert row == (
        b'{"actor":{"account_id":null,"role":"system"},"application_id":"7c1f4e2a-3b5d-4a6e-8f90-1a2b3c4d5e61",'
        b'"at":"2026-06-15T02:00:00.000000Z","event":"task_approved","payload":{"a":1,"b":2},"permit_number":null,'
        b'"seq":7,"task_id":null}'
    )


async def test_a_rolled_back_append_leaves_no_row_and_no_gap(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        await append_rows(session, 2)
        await session.commit()
    async with sessionmaker() as session:
        await append_rows(session, 1)  # written (flush_chains), then rolled back
        await session.rollback()
        await append_history(session, event="noted", actor=SYSTEM, at=START)  # queued, then rolled back
        await session.rollback()
    async with sessionmaker() as session:
        await append_history(session, event="noted", actor=SYSTEM, at=START, payload={"kept": True})
        await session.commit()
        rows = (await session.scalars(select(HistoryEntry).order_by(HistoryEntry.seq))).all()
        assert [row.seq for row in rows] == [1, 2, 3]
        assert rows[-1].payload == {"kept": True}


@pytest.mark.parametrize("event", ["TaskApproved", "task approved", "_task", "task__approved", "", "a" * 65, "é"])
async def test_events_are_snake_case_words(session: AsyncSession, event: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        await append_history(session, event=event, actor=SYSTEM, at=START)


@pytest.mark.parametrize(
    "payload",
    [
        {"fee": 1.5},
        {"big": 2**63},
        {"note": "a\x00b"},
        {"when": START},
        {"nested": [{"x": 0.1}]},
    ],
)
async def test_payloads_refuse_what_would_not_hash_the_same_stored(session: AsyncSession, payload: Any) -> None:
    with pytest.raises(ValueError, match="payload"):
        await append_history(session, event="noted", actor=SYSTEM, at=START, payload=payload)


def _id_number(first17: str) -> str:
    """A valid number: stdnum's calc_check_digit takes the whole number and ignores its last character."""
    number = first17 + calc_check_digit(first17 + "?")
    assert normalise_id_number(number, today=START.date()) == number.upper()
    return number


@pytest.mark.parametrize(
    "payload",
    [
        {"holder": _id_number("11010119900307002")},
        {"note": f"持证人身份证号{_id_number('11010119900307002')}。"},
        {"list": ["ok", {"deep": _id_number("44190019851230123").lower()}]},
        {_id_number("11010119900307002"): "as a key"},
    ],
)
async def test_payloads_never_hold_an_id_number(session: AsyncSession, payload: Any) -> None:
    """T-L6: a canary ID number in any string of the payload (values or keys, at any depth) is refused."""
    with pytest.raises(PersonalDataInHistory) as refused:
        await append_history(session, event="noted", actor=SYSTEM, at=START, payload=payload)
    assert "11010119900307002" not in str(refused.value)
    assert "44190019851230123" not in str(refused.value)
    assert (await session.scalar(text("SELECT count(*) FROM permits_history"))) == 0


async def test_numbers_that_are_not_id_numbers_pass(session: AsyncSession) -> None:
    right = _id_number("11010119900307002")
    wrong_check = right[:17] + ("0" if right[17] != "0" else "1")
    payload = {"code": wrong_check, "jurisdiction": "110101001000", "longer": "1101011990030700231"}
    await append_history(session, event="noted", actor=SYSTEM, at=START, payload=payload)
    await flush_chains(session)
    assert await session.scalar(select(HistoryEntry.payload)) == payload


def test_actors_are_accounts_in_their_role_or_the_system() -> None:
    principal = Principal(account_id=uuid.uuid4(), role="street_office", jurisdiction_code="110101001000")
    assert Actor.of(principal) == Actor(role="street_office", account_id=principal.account_id)
    with pytest.raises(ValueError, match="actor"):
        Actor(role="admin")
    with pytest.raises(ValueError, match="actor"):
        Actor(role="system", account_id=uuid.uuid4())
    assert set(get_args(ActorRole)) == {*ROLES, "system"}


async def test_naive_instants_are_refused(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="offset"):
        await append_history(session, event="noted", actor=SYSTEM, at=dt.datetime(2026, 6, 15, 10, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE {table} SET seq = seq", "UPDATE"),
        ("DELETE FROM {table} WHERE seq >= 1", "DELETE"),
        ("TRUNCATE {table}", "TRUNCATE"),
    ],
)
@pytest.mark.parametrize("table", ["permits_history", "permits_history_anchor"])
async def test_the_history_and_its_anchors_refuse_update_delete_and_truncate(
    session: AsyncSession, statement: str, operation: str, table: str
) -> None:
    """T-L1 as the table owner: the triggers raise 42501, and the rows are still there."""
    await append_rows(session, 2)
    assert await anchors.publish_anchor(session, LocalSigner(), now=START, timezone="Asia/Shanghai") is not None
    with pytest.raises(DBAPIError) as refused:
        async with session.begin_nested():
            await session.execute(text(statement.format(table=table)))
    cause: Any = refused.value.orig.__cause__  # type: ignore[union-attr]
    assert cause.sqlstate == "42501"
    assert f"{table} is append-only: {operation} refused" in str(cause)
    assert (await session.scalar(text("SELECT count(*) FROM permits_history"))) == 2
    assert (await session.scalar(text("SELECT count(*) FROM permits_history_anchor"))) == 1


async def test_an_applications_history_pages_in_order(session: AsyncSession, settings: Settings) -> None:
    pagination.configure(settings.auth.secret_key)  # as create_app does
    mine, other = uuid.uuid4(), uuid.uuid4()
    await append_rows(session, 2, application_id=mine)
    await append_rows(session, 1, application_id=other)
    await append_rows(session, 3, application_id=mine)
    first = await application_history(session, mine, limit=3, cursor=None)
    assert [e.seq for e in first.items] == [1, 2, 4]
    assert first.next_cursor is not None
    second = await application_history(session, mine, limit=3, cursor=first.next_cursor)
    assert [e.seq for e in second.items] == [5, 6]
    assert second.next_cursor is None
    with pytest.raises(InvalidCursor):
        await application_history(session, mine, limit=3, cursor=first.next_cursor[:-2] + "AA")


async def test_tampering_needs_the_triggers_off(session: AsyncSession) -> None:
    """The helper the verifier tests use really changes the row (so their findings are not vacuous)."""
    await append_rows(session, 1)
    await tamper(session, "UPDATE permits_history SET payload = '{\"step\": 99}' WHERE seq = 1")
    assert (await session.scalar(text("SELECT payload->>'step' FROM permits_history"))) == "99"
