"""Appends to hash chains, queued during a transaction and written right before its COMMIT.

A chain (core.hash_chain) is serialized by one advisory lock, city-wide. Taken where a request appends, the lock
would be held for everything the request does afterwards (the rest of the handler, the response, the idempotency
record, the COMMIT), and every other appender would wait that long. So an append only queues its row on the
session (`enqueue`); the `before_commit` hook of the service's session class (`ChainingSession`) then, per chain:

1. takes the chain's lock (`pg_advisory_xact_lock`, released by the COMMIT a few statements later),
2. reads the chain's head in a statement of its own, after the lock: under READ COMMITTED its snapshot includes
   the row the previous holder committed,
3. gives the queued rows seq, prev_hash and row_hash in the order they were queued, and inserts them in one
   statement.

A transaction that rolls back (or a savepoint that does, for the rows queued inside it) drops its rows before
they ever took a seq: no row, no gap. A queue never outlives the transaction it was made in. UNIQUE on
`prev_hash` stays each table's backstop against a fork.

Locks are always taken in one order, each chain's `lock_order` (lowest first), so two transactions writing
to the same two chains cannot deadlock. A caller that must read its own appends back in the same transaction
(a reveal answering with its access-log seq) calls `flush_chains`: the write happens then, and the locks are
held from there until the transaction ends, so it is for the few paths that need it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from core.hash_chain import GENESIS, chain_hash

_QUEUE: Final = "core.chain_queue"
logger = logging.getLogger(__name__)


class ChainingSession(Session):
    """The sync session behind every AsyncSession the service makes (core.db.create_sessionmaker): the
    class this module's hooks listen on, so they run for the service's sessions and no one else's."""


# Every chain defined in this process, by lock order: `flush_chains` locks those ordered before the ones it writes.
_CHAINS: dict[int, Chain] = {}


@dataclasses.dataclass(frozen=True, eq=False)
class Chain:
    """One hash-chained table: its advisory-lock key, where it stands in the lock order, and its mapped class
    (which has `seq`, `prev_hash` and `row_hash` columns)."""

    name: str
    lock_order: int
    lock: int | tuple[int, int]
    model: type[Any]

    def __post_init__(self) -> None:
        taken = _CHAINS.get(self.lock_order)
        if taken is not None and taken.name != self.name:
            raise ValueError(f"lock order {self.lock_order} is {taken.name}'s")
        _CHAINS[self.lock_order] = self


class QueuedRow:
    """A row waiting for its place in a chain; its seq once written (at COMMIT, or by `flush_chains`)."""

    __slots__ = ("_seq", "chain", "encode", "transaction", "values")

    def __init__(
        self,
        chain: Chain,
        values: Mapping[str, Any],
        encode: Callable[[int], bytes],
        transaction: SessionTransaction,
    ) -> None:
        self.chain = chain
        self.values = values
        self.encode = encode
        self.transaction = transaction
        self._seq: int | None = None

    @property
    def seq(self) -> int:
        if self._seq is None:
            raise RuntimeError("a queued row has no seq before it is written: at COMMIT, or by flush_chains")
        return self._seq


def enqueue(
    session: AsyncSession, chain: Chain, values: Mapping[str, Any], encode: Callable[[int], bytes]
) -> QueuedRow:
    """Queue a row for `chain` in the session's transaction. `values` are its columns but seq, prev_hash and
    row_hash; `encode(seq)` its canonical row (what row_hash covers, after the predecessor's hash)."""
    sync = session.sync_session
    if not isinstance(sync, ChainingSession):
        # A session without the commit hook would drop the row without a word.
        raise TypeError("chained rows need a session from core.db.create_sessionmaker (its ChainingSession)")
    # The row belongs to a transaction from the start (begun here if need be: no statement is sent), so that
    # transaction's end (commit, rollback, close) settles it.
    transaction = sync.get_nested_transaction() or sync.get_transaction() or sync.begin()
    row = QueuedRow(chain, values, encode, transaction)
    sync.info.setdefault(_QUEUE, []).append(row)
    return row


async def flush_chains(session: AsyncSession) -> None:
    """Write the rows queued so far now, for a caller that must read them back (or know their seqs) before
    the commit. The chains' locks are then held until the transaction ends: use it only where needed."""
    await session.run_sync(_write, lock_preceding=True)


def _write(session: Session, *, lock_preceding: bool) -> None:
    queue: list[QueuedRow] = session.info.pop(_QUEUE, [])
    if not queue:
        return
    # The ORM's own pending rows go first, before any chain is locked (commit's flush would follow the hook).
    session.flush()
    by_chain: dict[int, list[QueuedRow]] = {}
    for row in queue:
        by_chain.setdefault(row.chain.lock_order, []).append(row)
    # Mid-transaction, the chains ordered before the last one written are locked too: a row queued for them
    # later would otherwise be locked at COMMIT after a lock ordered behind it.
    orders = sorted(
        {order for order in _CHAINS if order <= max(by_chain)} if lock_preceding else set(by_chain),
    )
    for order in orders:
        chain = _CHAINS[order]
        _lock(session, chain.lock)
        rows = by_chain.get(order)
        if rows:
            _insert(session, chain, rows)


def _lock(session: Session, key: int | tuple[int, int]) -> None:
    if isinstance(key, tuple):
        session.execute(text("SELECT pg_advisory_xact_lock(:high, :low)"), {"high": key[0], "low": key[1]})
    else:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _insert(session: Session, chain: Chain, rows: list[QueuedRow]) -> None:
    columns = chain.model.__table__.c
    # A statement of its own, after the lock: under READ COMMITTED it sees the row the previous holder committed.
    # (Under REPEATABLE READ it could not, and UNIQUE(prev_hash) would refuse the fork.)
    head = session.execute(select(columns.seq, columns.row_hash).order_by(columns.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.row_hash) if head is not None else (0, GENESIS)
    written: list[dict[str, Any]] = []
    for row in rows:
        seq += 1
        row_hash = chain_hash(prev, row.encode(seq))
        written.append({**row.values, "seq": seq, "prev_hash": prev, "row_hash": row_hash})
        prev = row_hash
    session.execute(insert(chain.model), written)
    for row, values in zip(rows, written, strict=True):
        row._seq = values["seq"]


@event.listens_for(ChainingSession, "before_commit")
def _before_commit(session: Session) -> None:
    # Also called when a savepoint is released; the rows wait for the transaction's own COMMIT. (A session's
    # commit() releases open savepoints innermost first, so the outermost one comes last, with none open.)
    if not session.in_nested_transaction():
        _write(session, lock_preceding=False)


@event.listens_for(ChainingSession, "after_commit")
def _after_commit(session: Session) -> None:
    # Only a commit of the outermost transaction while a savepoint is still open (`async with session.begin()`
    # around a nested one) skips the write above; nothing here does that. Should anything start to, the rows
    # it loses must be loud, not silent.
    lost = session.info.get(_QUEUE)
    if lost:
        logger.error("%d chained rows were never written: their transaction committed with a savepoint open", len(lost))


@event.listens_for(ChainingSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop what the rolled-back transaction (or savepoint, and any inside it) queued. (Not after_rollback: it
    names no transaction, and fires for a savepoint's rollback too, where the enclosing rows must stay.)"""
    queue: list[QueuedRow] | None = session.info.get(_QUEUE)
    if queue:
        queue[:] = [row for row in queue if not _within(row.transaction, previous_transaction)]


@event.listens_for(ChainingSession, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction's end, however it ends (commit, rollback, close): nothing carries over.
    if transaction.parent is None:
        session.info.pop(_QUEUE, None)


def _within(inner: SessionTransaction, outer: SessionTransaction) -> bool:
    current: SessionTransaction | None = inner
    while current is not None:
        if current is outer:
            return True
        current = current.parent
    return False
