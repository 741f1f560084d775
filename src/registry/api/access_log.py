"""GET /access-log-anchors: the signed daily heads of the personal-data access log (public)."""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, get

from core.deps import DbSession
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from registry import access_log_anchors


class AccessLogAnchorOut(msgspec.Struct, kw_only=True):
    day: dt.date
    seq: int
    row_hash: str  # hex
    signature: str  # base64url, unpadded; over core.chain_anchors.anchor_message with the log's domain
    kid: str
    created_at: dt.datetime


class AccessLogAnchorController(Controller):
    path = "/access-log-anchors"
    tags = ("access log",)

    @get(
        "/",
        operation_id="listAccessLogAnchors",
        summary="List the signed daily heads of the personal-data access log (public)",
        description=(
            "Public. One anchor per city day, oldest first: the access log's last row (`seq`, `row_hash` in hex) "
            "signed with Ed25519 by the key `kid` names (GET /permit-signing-keys publishes it; `signature`, "
            "base64url, over the bytes `flexreg access log anchor v1\\n` followed by the compact sorted JSON "
            '`{"day","row_hash","seq"}`). An anchor holds how many rows the log had (one per staff read of one '
            "vendor's data) and a hash, nothing about whose data. Keep copies of every page (follow "
            "`next_cursor`): `flexreg verify-audit --access-anchors FILE` checks the log against them, catching "
            "rows deleted from the log's end, up to the newest anchor held, or a log rewritten in the database "
            "itself."
        ),
    )
    async def list_access_log_anchors(
        self, session: DbSession, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[AccessLogAnchorOut]:
        page = await access_log_anchors.list_anchors(session, limit=limit, cursor=cursor)
        items = [AccessLogAnchorOut(**msgspec.structs.asdict(anchor)) for anchor in page.items]
        return page_of(items, page)
