"""The permits history's anchors: its head, signed once per city day and published (GET /history-anchors).

The mechanism, and what an anchor holds, is core.chain_anchors'; what the history's signatures cover:

    b"flexreg history anchor v1\\n" + JSON {"day": "YYYY-MM-DD", "row_hash": "<64 hex>", "seq": n}

`flexreg verify-audit --anchors FILE` checks the chain against copies kept outside, so a rewrite or a cut tail
is caught.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from core import chain_anchors
from core.chain_anchors import Anchor, HeadSigner, b64url, unb64url
from core.pagination import Page
from permits import history
from permits.history_models import HistoryAnchor

__all__ = [
    "DOMAIN",
    "Anchor",
    "HeadSigner",
    "all_anchors",
    "anchor_message",
    "b64url",
    "list_anchors",
    "publish_anchor",
    "signature_holds",
    "unb64url",
]

DOMAIN: Final = b"flexreg history anchor v1\n"


def anchor_message(*, day: dt.date, seq: int, row_hash: bytes) -> bytes:
    """The bytes a history anchor's signature covers (module docstring)."""
    return chain_anchors.anchor_message(DOMAIN, day=day, seq=seq, row_hash=row_hash)


def signature_holds(anchor: Anchor, public_key: Ed25519PublicKey) -> bool:
    """Whether `public_key` (the one named by the anchor's kid) made this history anchor's signature."""
    return chain_anchors.signature_holds(DOMAIN, anchor, public_key)


async def publish_anchor(
    session: AsyncSession, signer: HeadSigner, *, now: dt.datetime, timezone: str
) -> Anchor | None:
    """Sign and store today's head of the history; None if today's is already published or it is empty."""
    head = await history.chain_head(session)
    return await chain_anchors.publish_anchor(session, HistoryAnchor, DOMAIN, head, signer, now=now, timezone=timezone)


async def list_anchors(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Anchor]:
    """The published anchors, oldest day first."""
    return await chain_anchors.list_anchors(session, HistoryAnchor, limit=limit, cursor=cursor)


async def all_anchors(session: AsyncSession) -> Sequence[Anchor]:
    """Every anchor the table holds (the verifier checks the chain against each)."""
    return await chain_anchors.all_anchors(session, HistoryAnchor)
