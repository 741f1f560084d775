"""Recompute the history's chain from its first row and say whether it holds (`flexreg verify-audit`).

Row by row, in `seq` order, from seq 1: each seq must follow the last (a deleted row leaves a gap), each row's
`prev_hash` must be the row before's hash (a moved or swapped row breaks the link), and each row's content
must hash to its `row_hash` (an edited row). The first row that fails is named. Then the anchors, from the
table and from copies kept outside: each must name a row the chain still has (a cut tail ends the chain before
the last anchor) with the hash recomputed for it (a chain recomputed from an edited row onwards, which hashes
consistently, still disagrees with a head signed before the edit).

The walk itself (batches by seq, outside the ORM's identity map) is core.hash_chain's, shared with the
personal-data access log.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from core.hash_chain import BATCH, GENESIS, ChainBroken, walk_chain
from core.pagination import Page
from permits.anchors import Anchor, signature_holds
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


class UnreadableAnchors(Exception):
    """An anchors or keys file that is not what GET /history-anchors or a JWKS document returns."""


async def verify_history(
    session: AsyncSession,
    *,
    anchors: Iterable[Anchor] = (),
    public_keys: Mapping[str, Ed25519PublicKey] | None = None,
    batch: int = BATCH,
) -> Verdict:
    """Recompute the chain and check it against `anchors` (and their signatures, when `public_keys` are given)."""
    by_seq: dict[int, list[Anchor]] = defaultdict(list)
    for anchor in dict.fromkeys(anchors):  # the table's and an outside copy's are often the same anchor
        by_seq[anchor.seq].append(anchor)
    checked = sum(len(found) for found in by_seq.values())
    if public_keys is not None:
        for anchor in sorted((a for found in by_seq.values() for a in found), key=lambda a: a.day):
            key = public_keys.get(anchor.kid)
            if key is None or not signature_holds(anchor, key):
                why = "names an unknown key" if key is None else "has a signature that does not hold"
                detail = f"the anchor of {anchor.day} (row {anchor.seq}) {why} (kid {anchor.kid})"
                return _failed(0, None, checked, anchor.seq, "bad_signature", detail)

    count, prev, last_matching = 0, GENESIS, 0
    try:
        async for row, recomputed in walk_chain(
            session, _COLUMNS, HistoryEntry.__table__.c.seq, entry_row, batch=batch
        ):
            for anchor in by_seq.get(row.seq, ()):
                if anchor.row_hash != recomputed.hex():
                    detail = (
                        f"row {row.seq} differs from the anchor of {anchor.day}: the chain was rewritten after row "
                        f"{last_matching} (the last anchored row that agrees), at or before row {row.seq}"
                    )
                    return _failed(count, prev, checked, last_matching + 1, "anchor_mismatch", detail)
                last_matching = row.seq
            prev, count = recomputed, row.seq
    except ChainBroken as broken:
        return _failed(broken.rows, broken.head, checked, broken.seq, broken.problem, broken.detail)

    beyond = [anchor for seq, found in by_seq.items() if seq > count for anchor in found]
    if beyond:
        latest = max(beyond, key=lambda a: a.seq)
        detail = f"the chain ends at row {count} but the anchor of {latest.day} names row {latest.seq}: truncated"
        return _failed(count, prev, checked, count + 1, "truncated", detail)
    return Verdict(
        rows=count,
        head_seq=count or None,
        head_hash=prev.hex() if count else None,
        anchors_checked=checked,
        finding=None,
    )


def _failed(rows: int, prev: bytes | None, checked: int, seq: int, problem: Problem, detail: str) -> Verdict:
    head = rows or None
    head_hash = prev.hex() if prev is not None and rows else None
    finding = Finding(seq=seq, problem=problem, detail=detail)
    return Verdict(rows=rows, head_seq=head, head_hash=head_hash, anchors_checked=checked, finding=finding)


def load_anchors(path: Path) -> list[Anchor]:
    """Anchors kept outside: a page of GET /history-anchors (`{items, next_cursor}`), or a list of anchors."""
    try:
        raw = path.read_bytes()
        if raw.lstrip().startswith(b"["):
            return msgspec.json.decode(raw, type=list[Anchor])
        return msgspec.json.decode(raw, type=Page[Anchor]).items
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UnreadableAnchors(f"{path}: {exc}") from None


class _Jwk(msgspec.Struct):
    kty: str
    kid: str
    crv: str | None = None
    x: str | None = None


class _Jwks(msgspec.Struct):
    keys: list[_Jwk]


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS document (RFC 8037 OKP keys), by kid; other key types are passed over."""
    try:
        document: Any = msgspec.json.decode(path.read_bytes(), type=_Jwks)
        return {
            jwk.kid: Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk.x + "=" * (-len(jwk.x) % 4)))
            for jwk in document.keys
            if jwk.kty == "OKP" and jwk.crv == "Ed25519" and jwk.x is not None
        }
    except (OSError, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UnreadableAnchors(f"{path}: {exc}") from None
