"""Hash chains over append-only tables: what the permits history and the personal-data access log share.

A chained row stores `seq` (1, 2, … with no gap), `prev_hash` (the row before's `row_hash`; the first row's is
32 zero bytes) and `row_hash = SHA-256(prev_hash ‖ canonical_row)`, where each table defines its canonical row
(compact JSON, keys sorted at every depth: `canonical_json`). Editing, removing or reordering a row breaks every
hash after it; `walk_chain` recomputes a chain from row 1 and names the first row that does not hold.

Appends are queued on the appender's session and written right before its COMMIT (core.chain_queue), under a
transaction-scoped advisory lock per chain (`lock_key`, `lock_pair`) held only for those last statements: the
next appender waits until the holder commits or rolls back, then reads the head it left, so a rolled-back
request leaves neither a row nor a gap. UNIQUE on `prev_hash` is each table's backstop against a fork.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, Literal

import msgspec
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncSession

HASH_BYTES: Final = 32
GENESIS: Final = bytes(HASH_BYTES)
BATCH: Final = 1000
_ENCODER: Final = msgspec.json.Encoder(order="sorted")

Break = Literal["missing", "broken_link", "altered"]


def lock_key(name: str) -> int:
    """A chain's key in the single-bigint advisory-lock space: derived from a name, so it is stable across
    processes and deployments and unlikely to meet another lock's key."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], signed=True)


def lock_pair(name: str) -> tuple[int, int]:
    """A chain's key in the two-int4 advisory-lock space (which never meets the bigint one). Preferred for new
    chains: a bigint key is 19 digits in the statement log, where a scan for 18-digit ID numbers finds it."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], signed=True), int.from_bytes(digest[4:8], signed=True)


def timestamp(at: dt.datetime) -> str:
    """The one spelling of an instant in a canonical row: UTC, microseconds, `Z`."""
    if at.tzinfo is None:
        raise ValueError("chained instants carry their offset")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON, compact, non-ASCII unescaped, object keys sorted at every depth."""
    return _ENCODER.encode(value)


def chain_hash(prev_hash: bytes, row: bytes) -> bytes:
    return hashlib.sha256(prev_hash + row).digest()


class ChainBroken(Exception):
    """The first row of a chain that does not hold: its seq, what kind of wrong, a sentence for a person, and
    how many rows before it held (with the last one's hash)."""

    def __init__(self, seq: int, problem: Break, detail: str, *, rows: int, head: bytes) -> None:
        super().__init__(detail)
        self.seq = seq
        self.problem = problem
        self.detail = detail
        self.rows = rows
        self.head = head


async def walk_chain(
    session: AsyncSession,
    columns: Sequence[ColumnElement[Any]],
    seq: ColumnElement[Any],
    canonical_row: Callable[[Row[Any]], bytes],
    *,
    batch: int = BATCH,
) -> AsyncIterator[tuple[Row[Any], bytes]]:
    """Each row of the chain in seq order with its recomputed hash; raises ChainBroken at the first row that is
    missing (a gap in seq), does not link to the row before, or no longer hashes to its `row_hash`.

    Rows are read in batches by seq, outside the ORM's identity map, so a long chain costs constant memory. A
    stored value `canonical_row` cannot encode (a naive instant) counts as altered, not as a crash.
    """
    expected, prev = 1, GENESIS
    while True:
        query = select(*columns).where(seq >= expected).order_by(seq).limit(batch)
        rows = (await session.execute(query)).all()
        for row in rows:
            if row.seq != expected:
                detail = f"row {expected} is missing (the row after row {expected - 1} is row {row.seq})"
                raise ChainBroken(expected, "missing", detail, rows=expected - 1, head=prev)
            if row.prev_hash != prev:
                detail = f"row {row.seq} does not link to row {row.seq - 1} (its prev_hash differs)"
                raise ChainBroken(row.seq, "broken_link", detail, rows=expected - 1, head=prev)
            try:
                recomputed = chain_hash(prev, canonical_row(row))
            except (ValueError, TypeError, msgspec.EncodeError):
                recomputed = b""
            if recomputed != row.row_hash:
                detail = f"row {row.seq} was altered (its content no longer hashes to its row_hash)"
                raise ChainBroken(row.seq, "altered", detail, rows=expected - 1, head=prev)
            yield row, recomputed
            prev, expected = recomputed, expected + 1
        if len(rows) < batch:
            return
