"""The history: an append-only, hash-chained record of everything that happens to applications, tasks and
permits (RELIABILITY.md A16, T-L1..T-L6).

Each row's hash covers its predecessor's, so editing, removing or reordering a row breaks every hash after it;
`permits.history_verify` recomputes the chain and names the first row that does not hold.

The canonical encoding of a row (what `row_hash` covers), for anyone re-computing the chain outside the service:

    row_hash = SHA-256(prev_hash ‖ canonical_row)

- `prev_hash` is the 32 raw bytes of the previous row's `row_hash`; the first row's is 32 zero bytes.
- `canonical_row` is the UTF-8 JSON (msgspec, compact: no whitespace, non-ASCII unescaped, object keys sorted
  at every depth) of `{"actor": {"account_id", "role"}, "application_id", "at", "event", "payload",
  "permit_number", "seq", "task_id"}`; ids are lower-case hyphenated UUID strings, absent values `null`, `at` is
  UTC with exactly six fractional digits and a `Z` (`2026-06-15T02:00:00.000000Z`).
- Payload values are strings, integers of 64 bits, booleans, null, lists and objects: no floats, whose JSON
  spelling PostgreSQL's jsonb does not keep (`1e+20` comes back as `100000000000000000000`).

An append queues its row on the caller's session; the row takes its seq and hashes right before the
transaction's COMMIT, under the chain's advisory lock, which is held only from there to the COMMIT
(core.chain_queue). A rolled-back request thus leaves neither a row nor a gap, and appending early in a request
holds no one up. A caller that reads its own appends back before committing calls `core.chain_queue.flush_chains`
first.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import hash_chain
from core.auth import Principal
from core.chain_queue import Chain, enqueue
from core.hash_chain import timestamp
from core.pagination import Page, keyset_page
from permits.history_models import ActorRole, HistoryEntry
from registry.id_numbers import holds_id_number

# One key for the chain, in the single-bigint advisory-lock space (core.hash_chain.lock_key). Locked after the
# access log's (lock order 1: the lower layer's), whenever one transaction writes both.
CHAIN_LOCK_KEY: Final = hash_chain.lock_key("flexreg permits_history chain")
CHAIN: Final = Chain(name="permits_history", lock_order=2, lock=CHAIN_LOCK_KEY, model=HistoryEntry)
_EVENT: Final = re.compile(r"\A[a-z][a-z0-9]*(_[a-z0-9]+)*\Z")
_MAX_EVENT = 64
_INT64 = range(-(2**63), 2**63)


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who did it: an account in its role, or `system` (sweeps, deemed consent). Never a name or an ID number."""

    role: ActorRole
    account_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.role == "system") != (self.account_id is None):
            raise ValueError("an actor is an account with its role, or the system without one")

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(role=principal.role, account_id=principal.account_id)


SYSTEM: Final = Actor(role="system")


class PersonalDataInHistory(ValueError):
    """A payload carrying what the history must never hold (T-L6); the value itself is not repeated."""


def canonical_row(
    *,
    seq: int,
    event: str,
    actor: Actor,
    at: dt.datetime,
    application_id: uuid.UUID | None,
    task_id: uuid.UUID | None,
    permit_number: str | None,
    payload: Mapping[str, Any],
) -> bytes:
    """The bytes a row's hash covers (the module docstring specifies them)."""
    return _canonical(
        seq=seq,
        event=event,
        actor_role=actor.role,
        actor_account_id=actor.account_id,
        at=at,
        application_id=application_id,
        task_id=task_id,
        permit_number=permit_number,
        payload=payload,
    )


def _canonical(
    *,
    seq: int,
    event: str,
    actor_role: str,
    actor_account_id: uuid.UUID | None,
    at: dt.datetime,
    application_id: uuid.UUID | None,
    task_id: uuid.UUID | None,
    permit_number: str | None,
    payload: Any,
) -> bytes:
    return hash_chain.canonical_json(
        {
            "actor": {"account_id": _uuid(actor_account_id), "role": actor_role},
            "application_id": _uuid(application_id),
            "at": timestamp(at),
            "event": event,
            "payload": payload,
            "permit_number": permit_number,
            "seq": seq,
            "task_id": _uuid(task_id),
        }
    )


def entry_row(entry: HistoryEntry | Row[Any]) -> bytes:
    """The canonical row of a stored entry as read back (an ORM entry, or a row of its columns). The stored
    values are encoded as they are, unchecked: a tampered row must hash wrong, not fail to encode."""
    return _canonical(
        seq=entry.seq,
        event=entry.event,
        actor_role=entry.actor_role,
        actor_account_id=entry.actor_account_id,
        at=entry.at,
        application_id=entry.application_id,
        task_id=entry.task_id,
        permit_number=entry.permit_number,
        payload=entry.payload,
    )


def _uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def check_payload(value: Any, path: str = "payload") -> None:
    """Refuse what would not hash the same once stored (floats, NUL, huge integers) and ID numbers (T-L6)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"{path}: integers in the history fit in 64 bits")
    elif isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path}: text in the history holds no NUL character")
        if holds_id_number(value):
            raise PersonalDataInHistory(f"{path}: holds a resident ID number; the history must never hold one")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_payload(item, f"{path}/{index}")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: object keys are text")
            check_payload(key, f"{path} key")
            check_payload(item, f"{path}/{key}")
    else:
        raise ValueError(f"{path}: {type(value).__name__} is not a history value (text, integer, boolean, null)")


async def chain_head(session: AsyncSession) -> tuple[int, bytes] | None:
    """The last row's seq and hash, as committed when the statement starts; None while the history is empty."""
    query = select(HistoryEntry.seq, HistoryEntry.row_hash).order_by(HistoryEntry.seq.desc()).limit(1)
    head = (await session.execute(query)).first()
    return None if head is None else (head.seq, head.row_hash)


async def append_history(
    session: AsyncSession,
    *,
    event: str,
    actor: Actor,
    at: dt.datetime,
    application_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    permit_number: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Record that `event` happened, in the caller's transaction: it commits or rolls back with the change it
    records. The row is queued, and written (seq, hashes) right before the COMMIT (module docstring)."""
    if not _EVENT.match(event) or len(event) > _MAX_EVENT:
        raise ValueError("an event is a snake_case word of at most 64 characters")
    body = dict(payload or {})
    check_payload(body)
    timestamp(at)  # a naive instant is refused now, not at the commit

    def encode(seq: int) -> bytes:
        return canonical_row(
            seq=seq,
            event=event,
            actor=actor,
            at=at,
            application_id=application_id,
            task_id=task_id,
            permit_number=permit_number,
            payload=body,
        )

    values = {
        "application_id": application_id,
        "task_id": task_id,
        "permit_number": permit_number,
        "event": event,
        "actor_role": actor.role,
        "actor_account_id": actor.account_id,
        "payload": body,
        "at": at,
    }
    enqueue(session, CHAIN, values, encode)


async def application_history(
    session: AsyncSession, application_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    """An application's history (its tasks' and its permit's events included when recorded with its id), oldest
    first. Who may read it is the caller's to decide."""
    query = select(HistoryEntry).where(HistoryEntry.application_id == application_id)
    return await keyset_page(session, query, (HistoryEntry.seq,), limit=limit, cursor=cursor, key=lambda e: (e.seq,))
