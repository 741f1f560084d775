"""Recompute the history's chain from its first row and say whether it holds (`flexreg verify-audit`).

Row by row, in `seq` order, from seq 1: each seq must follow the last (a deleted row leaves a gap), each row's
`prev_hash` must be the row before's hash (a moved or swapped row breaks the link), and each row's content
must hash to its `row_hash` (an edited row). The first row that fails is named. Then the anchors, from the
table and from copies kept outside: each must name a row the chain still has (a cut tail ends the chain before
the last anchor) with the hash recomputed for it (a chain recomputed from an edited row onwards, which hashes
consistently, still disagrees with a head signed before the edit).

The walk itself (batches by seq, outside the ORM's identity map) is core.hash_chain's and the anchors' check
core.chain_anchors', both shared with the personal-data access log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from core.chain_anchors import Anchor, AnchorCheck
from core.hash_chain import BATCH, GENESIS, ChainBroken, walk_chain
from permits.anchors import DOMAIN
from permits.history import entry_row
from permits.history_models import HistoryEntry

Problem = Literal["missing", "broken_link", "altered", "truncated", "anchor_mismatch", "bad_signature"]
_COLUMNS: Final = tuple(HistoryEntry.__table__.c)


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """The first thing wrong: the seq it concerns, what kind of wrong, and a sentence for a person."""

    seq: int
    problem: Problem
    detail: str


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    head_seq: int | None
    head_hash: str | None  # hex
    anchors_checked: int
    finding: Finding | None

    @property
    def intact(self) -> bool:
        return self.finding is None

    def summary(self) -> str:
        if self.finding is not None:
            return f"the history does not verify: {self.finding.detail}"
        head = f"head seq {self.head_seq} {self.head_hash}" if self.head_seq is not None else "no head (empty)"
        agreeing = "1 anchor agrees" if self.anchors_checked == 1 else f"{self.anchors_checked} anchors agree"
        return f"the history verifies: {self.rows} rows, {head}, {agreeing}"


async def verify_history(
    session: AsyncSession,
    *,
    anchors: Iterable[Anchor] = (),
    public_keys: Mapping[str, Ed25519PublicKey] | None = None,
    batch: int = BATCH,
) -> Verdict:
    """Recompute the chain and check it against `anchors` (and their signatures, when `public_keys` are given)."""
    check = AnchorCheck(anchors)
    if public_keys is not None and (forged := check.signatures(DOMAIN, public_keys)) is not None:
        return _failed(0, None, check.checked, forged.seq, forged.problem, forged.detail)
    count, prev = 0, GENESIS
    try:
        async for row, recomputed in walk_chain(
            session, _COLUMNS, HistoryEntry.__table__.c.seq, entry_row, batch=batch
        ):
            if (disagrees := check.row(row.seq, recomputed)) is not None:
                return _failed(count, prev, check.checked, disagrees.seq, disagrees.problem, disagrees.detail)
            prev, count = recomputed, row.seq
    except ChainBroken as broken:
        return _failed(broken.rows, broken.head, check.checked, broken.seq, broken.problem, broken.detail)
    if (cut := check.end(count)) is not None:
        return _failed(count, prev, check.checked, cut.seq, cut.problem, cut.detail)
    return Verdict(
        rows=count,
        head_seq=count or None,
        head_hash=prev.hex() if count else None,
        anchors_checked=check.checked,
        finding=None,
    )


def _failed(rows: int, prev: bytes | None, checked: int, seq: int, problem: Problem, detail: str) -> Verdict:
    head_hash = prev.hex() if prev is not None and rows else None
    finding = Finding(seq=seq, problem=problem, detail=detail)
    return Verdict(rows=rows, head_seq=rows or None, head_hash=head_hash, anchors_checked=checked, finding=finding)
