"""Anchors: a hash chain's head, signed once per city day, so copies kept outside the database catch a rewrite.

A superuser can disable an append-only table's triggers and recompute its whole chain (RELIABILITY.md A16);
what they cannot recompute is a signed head someone outside already holds. A verifier fed such copies
(`AnchorCheck`) catches a cut tail (the chain ends before an anchored row) and a rewrite (an anchored row hashes
otherwise than it did). The permits history and the personal-data access log each keep their own anchors in
their own table, signed over their own domain string so one chain's anchor never passes for the other's:

    domain + JSON {"day": "YYYY-MM-DD", "row_hash": "<64 hex>", "seq": n}

the JSON compact, keys sorted (as the chains' canonical rows). The signature (Ed25519, `HeadSigner`) travels
base64url without padding, with the `kid` of the key that made it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from zoneinfo import ZoneInfo

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, LargeBinary, Text, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.hash_chain import HASH_BYTES
from core.pagination import Page, keyset_page

_ENCODER: Final = msgspec.json.Encoder(order="sorted")

AnchorProblem = Literal["truncated", "anchor_mismatch", "bad_signature"]


class HeadSigner(Protocol):
    """Signs anchors with a private key the service holds; `kid` names the public key that verifies them."""

    @property
    def kid(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class Anchor(msgspec.Struct, frozen=True, kw_only=True):
    """A signed chain head as published: what an outside copy keeps."""

    day: dt.date
    seq: int
    row_hash: str  # hex
    signature: str  # base64url, unpadded
    kid: str
    created_at: dt.datetime


class AnchorRow:
    """The columns of a chain's anchors table, one row per city day: a mapped class takes them with its Base
    (`class HistoryAnchor(AnchorRow, Base)`), its own `__tablename__`, and the tables' two checks."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[CheckConstraint, ...]:
        # Made per table: a constraint belongs to the one table it is attached to.
        return (
            CheckConstraint("seq >= 1", name="seq_positive"),
            CheckConstraint(f"length(row_hash) = {HASH_BYTES}", name="hash_size"),
        )

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    kid: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def anchor_message(domain: bytes, *, day: dt.date, seq: int, row_hash: bytes) -> bytes:
    """The bytes an anchor's signature covers (module docstring)."""
    return domain + _ENCODER.encode({"day": day.isoformat(), "row_hash": row_hash.hex(), "seq": seq})


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signature_holds(domain: bytes, anchor: Anchor, public_key: Ed25519PublicKey) -> bool:
    """Whether `public_key` (the one named by the anchor's kid) signed this anchor of the chain `domain` names."""
    try:
        message = anchor_message(domain, day=anchor.day, seq=anchor.seq, row_hash=bytes.fromhex(anchor.row_hash))
        public_key.verify(unb64url(anchor.signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def anchor_of(row: AnchorRow) -> Anchor:
    return Anchor(
        day=row.day,
        seq=row.seq,
        row_hash=row.row_hash.hex(),
        signature=b64url(row.signature),
        kid=row.kid,
        created_at=row.created_at,
    )


async def publish_anchor(
    session: AsyncSession,
    table: type[AnchorRow],
    domain: bytes,
    head: tuple[int, bytes] | None,
    signer: HeadSigner,
    *,
    now: dt.datetime,
    timezone: str,
) -> Anchor | None:
    """Sign and store `head` (seq, hash) as today's anchor (the city's day, in `timezone`); None if today's is
    already published (by this or another worker: the primary key on the day decides) or the chain is empty."""
    if head is None:
        return None
    seq, row_hash = head
    day = now.astimezone(ZoneInfo(timezone)).date()
    signature = signer.sign(anchor_message(domain, day=day, seq=seq, row_hash=row_hash))
    statement = (
        insert(table)
        .values(day=day, seq=seq, row_hash=row_hash, signature=signature, kid=signer.kid, created_at=now)
        .on_conflict_do_nothing(index_elements=[table.day])
        .returning(table)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else anchor_of(row)


async def list_anchors(
    session: AsyncSession, table: type[AnchorRow], *, limit: int, cursor: str | None
) -> Page[Anchor]:
    """A chain's published anchors, oldest day first."""
    page: Page[Any] = await keyset_page(
        session, select(table), (table.day,), limit=limit, cursor=cursor, key=lambda a: (a.day,)
    )
    return Page(items=[anchor_of(row) for row in page.items], next_cursor=page.next_cursor)


async def all_anchors(session: AsyncSession, table: type[AnchorRow]) -> Sequence[Anchor]:
    """Every anchor a chain's table holds (its verifier checks the chain against each)."""
    rows = await session.scalars(select(table).order_by(table.day))
    return [anchor_of(row) for row in rows]


class AnchorFinding(msgspec.Struct, frozen=True, kw_only=True):
    """What an anchor says is wrong: the seq it concerns, the kind, and a sentence for a person."""

    seq: int
    problem: AnchorProblem
    detail: str


class AnchorCheck:
    """Anchors (from the table and from copies kept outside) checked against a chain as its verifier walks it."""

    def __init__(self, anchors: Iterable[Anchor]) -> None:
        self._by_seq: dict[int, list[Anchor]] = defaultdict(list)
        for anchor in dict.fromkeys(anchors):  # the table's and an outside copy's are often the same anchor
            self._by_seq[anchor.seq].append(anchor)
        self.checked = sum(len(found) for found in self._by_seq.values())
        self._last_matching = 0

    def signatures(self, domain: bytes, public_keys: Mapping[str, Ed25519PublicKey]) -> AnchorFinding | None:
        """The first anchor (by day) not signed by the key its kid names."""
        for anchor in sorted((a for found in self._by_seq.values() for a in found), key=lambda a: a.day):
            key = public_keys.get(anchor.kid)
            if key is None or not signature_holds(domain, anchor, key):
                why = "names an unknown key" if key is None else "has a signature that does not hold"
                detail = f"the anchor of {anchor.day} (row {anchor.seq}) {why} (kid {anchor.kid})"
                return AnchorFinding(seq=anchor.seq, problem="bad_signature", detail=detail)
        return None

    def row(self, seq: int, recomputed: bytes) -> AnchorFinding | None:
        """Row `seq` as recomputed: a finding if an anchor of it holds another hash."""
        for anchor in self._by_seq.get(seq, ()):
            if anchor.row_hash != recomputed.hex():
                detail = (
                    f"row {seq} differs from the anchor of {anchor.day}: the chain was rewritten after row "
                    f"{self._last_matching} (the last anchored row that agrees), at or before row {seq}"
                )
                return AnchorFinding(seq=self._last_matching + 1, problem="anchor_mismatch", detail=detail)
            self._last_matching = seq
        return None

    def end(self, rows: int) -> AnchorFinding | None:
        """The chain ended after `rows` rows: a finding if an anchor names a row beyond."""
        beyond = [anchor for seq, found in self._by_seq.items() if seq > rows for anchor in found]
        if not beyond:
            return None
        latest = max(beyond, key=lambda a: a.seq)
        detail = f"the chain ends at row {rows} but the anchor of {latest.day} names row {latest.seq}: truncated"
        return AnchorFinding(seq=rows + 1, problem="truncated", detail=detail)


class UnreadableAnchors(Exception):
    """An anchors or keys file that is not what an anchors endpoint or a JWKS document returns."""


def load_anchors(path: Path, *, on_partial: Callable[[str], None] | None = None) -> list[Anchor]:
    """Anchors kept outside: a page of an anchors endpoint (`{items, next_cursor}`), or a list of anchors.

    The endpoints list oldest first: a page with a `next_cursor` holds none of the later anchors, the ones that
    catch a recently cut tail, so `on_partial` is told of it (the keeper should have followed the cursor)."""
    try:
        raw = path.read_bytes()
        if raw.lstrip().startswith(b"["):
            return msgspec.json.decode(raw, type=list[Anchor])
        page = msgspec.json.decode(raw, type=Page[Anchor])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UnreadableAnchors(f"{path}: {exc}") from None
    if page.next_cursor is not None and on_partial is not None:
        on_partial(f"{path} is one page of several (its next_cursor is set): anchors after it are not checked")
    return page.items


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
            jwk.kid: Ed25519PublicKey.from_public_bytes(unb64url(jwk.x))
            for jwk in document.keys
            if jwk.kty == "OKP" and jwk.crv == "Ed25519" and jwk.x is not None
        }
    except (OSError, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UnreadableAnchors(f"{path}: {exc}") from None
