"""The personal-data access log's anchors: its head, signed once per city day and published
(GET /access-log-anchors), as the permits history's are (core.chain_anchors has the mechanism).

Without them, rows deleted from the log's end leave a chain that still verifies (RELIABILITY.md T-L5). What
the signatures cover:

    b"flexreg access log anchor v1\\n" + JSON {"day": "YYYY-MM-DD", "row_hash": "<64 hex>", "seq": n}

An anchor holds a count of reads and a hash: nothing about whom they concerned, so it is public, and anyone
(the city's data-protection officer, an auditor) can keep copies for `flexreg verify-audit --access-anchors`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import chain_anchors
from core.chain_anchors import Anchor, HeadSigner
from core.pagination import Page
from registry.access_log import ANCHOR_DOMAIN
from registry.models import AccessLogAnchor, PersonalDataAccess


async def chain_head(session: AsyncSession) -> tuple[int, bytes] | None:
    """The log's last row's seq and hash, as committed when the statement starts; None while it is empty."""
    query = select(PersonalDataAccess.seq, PersonalDataAccess.row_hash).order_by(PersonalDataAccess.seq.desc())
    head = (await session.execute(query.limit(1))).first()
    return None if head is None else (head.seq, head.row_hash)


async def publish_anchor(
    session: AsyncSession, signer: HeadSigner, *, now: dt.datetime, timezone: str
) -> Anchor | None:
    """Sign and store today's head of the log; None if today's is already published or the log is empty."""
    head = await chain_head(session)
    return await chain_anchors.publish_anchor(
        session, AccessLogAnchor, ANCHOR_DOMAIN, head, signer, now=now, timezone=timezone
    )


async def list_anchors(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[Anchor]:
    """The published anchors, oldest day first."""
    return await chain_anchors.list_anchors(session, AccessLogAnchor, limit=limit, cursor=cursor)


async def all_anchors(session: AsyncSession) -> Sequence[Anchor]:
    """Every anchor the table holds (the verifier checks the log against each)."""
    return await chain_anchors.all_anchors(session, AccessLogAnchor)
