"""Anchors: the history's head, signed once per city day and published (GET /history-anchors).

A superuser can disable the history's triggers and recompute the whole chain (RELIABILITY.md A16); what they
cannot recompute is a signed head someone outside already holds. `flexreg verify-audit --anchors FILE` checks
the chain against such copies, so a rewrite or a cut tail is caught.

What is signed (Ed25519, `HeadSigner`), for anyone checking an anchor outside the service:

    b"flexreg history anchor v1\\n" + JSON {"day": "YYYY-MM-DD", "row_hash": "<64 hex>", "seq": n}

the JSON compact, keys sorted (msgspec, as the history's canonical rows). The signature travels base64url
without padding, with the `kid` of the key that made it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Final, Protocol
from zoneinfo import ZoneInfo

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import Page, keyset_page
from permits import history
from permits.history_models import HistoryAnchor

_DOMAIN: Final = b"flexreg history anchor v1\n"
_ENCODER: Final = msgspec.json.Encoder(order="sorted")


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


def anchor_message(*, day: dt.date, seq: int, row_hash: bytes) -> bytes:
    """The bytes an anchor's signature covers (module docstring)."""
    return _DOMAIN + _ENCODER.encode({"day": day.isoformat(), "row_hash": row_hash.hex(), "seq": seq})


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signature_holds(anchor: Anchor, public_key: Ed25519PublicKey) -> bool:
    """Whether `public_key` (the one named by the anchor's kid) made the anchor's signature."""
    try:
        message = anchor_message(day=anchor.day, seq=anchor.seq, row_hash=bytes.fromhex(anchor.row_hash))
        public_key.verify(unb64url(anchor.signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _anchor(row: HistoryAnchor) -> Anchor:
    return Anchor(
        day=row.day,
        seq=row.seq,
        row_hash=row.row_hash.hex(),
        signature=b64url(row.signature),
        kid=row.kid,
        created_at=row.created_at,
    )


async def publish_anchor(
    session: AsyncSession, signer: HeadSigner, *, now: dt.datetime, timezone: str
) -> Anchor | None:
    """Sign and store today's head (the city's day, in `timezone`); None if today's is already published (by
    this or another worker: the primary key on the day decides) or the history is still empty."""
    head = await history.chain_head(session)
    if head is None:
        return None
    seq, row_hash = head
    day = now.astimezone(ZoneInfo(timezone)).date()
    signature = signer.sign(anchor_message(day=day, seq=seq, row_hash=row_hash))
    statement = (
        insert(HistoryAnchor)
        .values(day=day, seq=seq, row_hash=row_hash, signature=signature, kid=signer.kid, created_at=now)
        .on_conflict_do_nothing(index_elements=[HistoryAnchor.day])
        .returning(HistoryAnchor)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else _anchor(row)


async def list_anchors(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Anchor]:
    """The published anchors, oldest day first."""
    page: Page[HistoryAnchor] = await keyset_page(
        session, select(HistoryAnchor), (HistoryAnchor.day,), limit=limit, cursor=cursor, key=lambda a: (a.day,)
    )
    return Page(items=[_anchor(row) for row in page.items], next_cursor=page.next_cursor)


async def all_anchors(session: AsyncSession) -> Sequence[Anchor]:
    """Every anchor the table holds (the verifier checks the chain against each)."""
    rows = await session.scalars(select(HistoryAnchor).order_by(HistoryAnchor.day))
    return [_anchor(row) for row in rows]
