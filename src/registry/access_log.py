"""The personal-data access log as a hash chain (RELIABILITY.md T-P4, T-P8, T-L1..T-L6), on core.hash_chain.

The canonical encoding of a row (what `row_hash` covers), for anyone re-computing the chain outside the service:

    row_hash = SHA-256(prev_hash ‖ canonical_row)

- `prev_hash` is the 32 raw bytes of the previous row's `row_hash`; the first row's is 32 zero bytes.
- `canonical_row` is the UTF-8 JSON (compact, object keys sorted) of `{"account_id", "accessed_at", "fields",
  "purpose_digest", "request_id", "request_path", "role", "seq", "vendor_id"}`: ids lower-case hyphenated UUID
  strings, `accessed_at` UTC with six fractional digits and a `Z`, `purpose_digest` lower-case hex, absent
  values `null`.
- `purpose_digest` is SHA-256(`purpose_salt` ‖ UTF-8 `purpose`), the salt 16 random bytes per row. The chain
  covers the digest, not the purpose: the retention job (flexreg.retention) clears the purpose and its salt
  together once their period ends, and the chain still verifies. Without the salt, the digest of a short
  purpose ("case_handling", a phone number typed into it) cannot be recovered by guessing.

Appends are queued on the caller's session and chained right before its COMMIT, under the chain's advisory
lock held only from there to the COMMIT (core.chain_queue); a caller that needs the seqs before (a reveal
answers with its own) calls `core.chain_queue.flush_chains`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import hash_chain
from core.chain_anchors import Anchor, AnchorCheck
from core.chain_queue import Chain, QueuedRow, enqueue
from core.hash_chain import GENESIS, ChainBroken, walk_chain
from registry.models import PersonalDataAccess

CHAIN_LOCK_KEY: Final = hash_chain.lock_pair("flexreg registry_personal_data_access chain")
# Locked first whenever one transaction writes both chains (the permits history is lock order 2).
CHAIN: Final = Chain(name="registry_personal_data_access", lock_order=1, lock=CHAIN_LOCK_KEY, model=PersonalDataAccess)
SALT_BYTES: Final = 16
# What the log's anchors' signatures begin with (registry.access_log_anchors publishes them).
ANCHOR_DOMAIN: Final = b"flexreg access log anchor v1\n"
_COLUMNS: Final = tuple(PersonalDataAccess.__table__.c)

Problem = Literal[
    "missing", "broken_link", "altered", "purpose_altered", "truncated", "anchor_mismatch", "bad_signature"
]


class Access(msgspec.Struct, frozen=True, kw_only=True):
    """One staff read of one vendor's personal data, before it is chained."""

    account_id: uuid.UUID
    role: str
    vendor_id: uuid.UUID
    fields: tuple[str, ...]
    purpose: str
    request_path: str
    request_id: str | None = None


def purpose_digest(salt: bytes, purpose: str) -> bytes:
    return hashlib.sha256(salt + purpose.encode()).digest()


def canonical_row(
    *,
    seq: int,
    accessed_at: dt.datetime,
    account_id: uuid.UUID,
    role: str,
    vendor_id: uuid.UUID,
    fields: Sequence[str],
    purpose_digest: bytes,
    request_path: str,
    request_id: str | None,
) -> bytes:
    """The bytes a row's hash covers (the module docstring specifies them)."""
    return hash_chain.canonical_json(
        {
            "account_id": str(account_id),
            "accessed_at": hash_chain.timestamp(accessed_at),
            "fields": list(fields),
            "purpose_digest": purpose_digest.hex(),
            "request_id": request_id,
            "request_path": request_path,
            "role": role,
            "seq": seq,
            "vendor_id": str(vendor_id),
        }
    )


def stored_row(row: PersonalDataAccess | Row[Any]) -> bytes:
    """The canonical row of a stored entry as read back, unchecked: a tampered row must hash wrong."""
    return canonical_row(
        seq=row.seq,
        accessed_at=row.accessed_at,
        account_id=row.account_id,
        role=row.role,
        vendor_id=row.vendor_id,
        fields=row.fields,
        purpose_digest=row.purpose_digest,
        request_path=row.request_path,
        request_id=row.request_id,
    )


async def append_accesses(
    session: AsyncSession, accesses: Sequence[Access], *, at: dt.datetime | None = None
) -> list[QueuedRow]:
    """Queue `accesses` for the chain in the caller's transaction: written in one statement right before its
    COMMIT, or by `flush_chains`, after which each queued row has its seq. `at` defaults to the transaction's
    start (PostgreSQL's now(), as the column's default always was)."""
    if not accesses:
        return []
    when: dt.datetime = at if at is not None else (await session.execute(select(func.now()))).scalar_one()
    return [_enqueue(session, access, when) for access in accesses]


def _enqueue(session: AsyncSession, access: Access, when: dt.datetime) -> QueuedRow:
    salt = os.urandom(SALT_BYTES)
    digest = purpose_digest(salt, access.purpose)

    def encode(seq: int) -> bytes:
        return canonical_row(
            seq=seq,
            accessed_at=when,
            account_id=access.account_id,
            role=access.role,
            vendor_id=access.vendor_id,
            fields=access.fields,
            purpose_digest=digest,
            request_path=access.request_path,
            request_id=access.request_id,
        )

    values = {
        "accessed_at": when,
        "account_id": access.account_id,
        "role": access.role,
        "vendor_id": access.vendor_id,
        "fields": list(access.fields),
        "purpose": access.purpose,
        "purpose_salt": salt,
        "purpose_digest": digest,
        "request_path": access.request_path,
        "request_id": access.request_id,
    }
    return enqueue(session, CHAIN, values, encode)


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    problem: Problem
    detail: str


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    head_seq: int | None
    head_hash: str | None  # hex
    purposes_cleared: int
    finding: Finding | None
    anchors_checked: int = 0

    @property
    def intact(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        if self.finding is not None:
            return f"the personal-data access log does not verify: {self.finding.detail}"
        head = f"head seq {self.head_seq} {self.head_hash}" if self.head_seq is not None else "no head (empty)"
        agreeing = "1 anchor agrees" if self.anchors_checked == 1 else f"{self.anchors_checked} anchors agree"
        return (
            f"the personal-data access log verifies: {self.rows} rows, {head}, "
            f"{self.purposes_cleared} purposes cleared by retention, {agreeing}"
        )


async def verify_access_log(
    session: AsyncSession,
    *,
    anchors: Iterable[Anchor] = (),
    public_keys: Mapping[str, Ed25519PublicKey] | None = None,
    batch: int = hash_chain.BATCH,
) -> Verdict:
    """Recompute the chain from row 1, check each kept purpose against its digest, and check the chain against
    `anchors` (registry.access_log_anchors; their signatures too when `public_keys` are given): the first row
    that does not hold is named. A cleared purpose (purpose and salt both null) is retention's, and verifies."""
    check = AnchorCheck(anchors)
    if public_keys is not None and (forged := check.signatures(ANCHOR_DOMAIN, public_keys)) is not None:
        return _failed(
            0, GENESIS, 0, check.checked, Finding(seq=forged.seq, problem=forged.problem, detail=forged.detail)
        )
    count, prev, cleared = 0, GENESIS, 0
    try:
        async for row, recomputed in walk_chain(
            session, _COLUMNS, PersonalDataAccess.__table__.c.seq, stored_row, batch=batch
        ):
            if row.purpose is None and row.purpose_salt is None:
                cleared += 1
            elif (
                row.purpose is None
                or row.purpose_salt is None
                or purpose_digest(row.purpose_salt, row.purpose) != row.purpose_digest
            ):
                detail = f"row {row.seq} was altered (its purpose no longer matches its purpose_digest)"
                finding = Finding(seq=row.seq, problem="purpose_altered", detail=detail)
                return _failed(count, prev, cleared, check.checked, finding)
            if (disagrees := check.row(row.seq, recomputed)) is not None:
                finding = Finding(seq=disagrees.seq, problem=disagrees.problem, detail=disagrees.detail)
                return _failed(count, prev, cleared, check.checked, finding)
            prev, count = recomputed, row.seq
    except ChainBroken as broken:
        finding = Finding(seq=broken.seq, problem=broken.problem, detail=broken.detail)
        return _failed(broken.rows, broken.head, cleared, check.checked, finding)
    if (cut := check.end(count)) is not None:
        return _failed(
            count, prev, cleared, check.checked, Finding(seq=cut.seq, problem=cut.problem, detail=cut.detail)
        )
    return Verdict(
        rows=count,
        head_seq=count or None,
        head_hash=prev.hex() if count else None,
        purposes_cleared=cleared,
        finding=None,
        anchors_checked=check.checked,
    )


def _failed(rows: int, prev: bytes, cleared: int, checked: int, finding: Finding) -> Verdict:
    return Verdict(
        rows=rows,
        head_seq=rows or None,
        head_hash=prev.hex() if rows else None,
        purposes_cleared=cleared,
        finding=finding,
        anchors_checked=checked,
    )


async def clear_purposes(session: AsyncSession, *, before: dt.datetime) -> int:
    """Clear the purpose (and its salt) of every row read before `before`: the one change the table's trigger
    lets through. The digest, and so the chain, stays."""
    result = await session.execute(
        update(PersonalDataAccess)
        .where(PersonalDataAccess.accessed_at < before, PersonalDataAccess.purpose.is_not(None))
        .values(purpose=None, purpose_salt=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
