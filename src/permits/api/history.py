"""The history as the API speaks it: GET /history-anchors (public), and the Struct of one history entry that
GET /applications/{id}/history returns (permits.api.applications serves it)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, get

from core.deps import DbSession
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from permits import anchors
from permits.history_models import ActorRole, HistoryEntry


class HistoryActorOut(msgspec.Struct, kw_only=True):
    """Who did it: an account in its role, or `system` with no account (a sweep, a deemed consent)."""

    role: ActorRole
    account_id: uuid.UUID | None


class HistoryEntryOut(msgspec.Struct, kw_only=True):
    seq: int
    event: str
    actor: HistoryActorOut
    at: dt.datetime
    application_id: uuid.UUID | None
    task_id: uuid.UUID | None
    permit_number: str | None
    payload: dict[str, Any]
    row_hash: str  # hex: a reader who keeps it can later show the service recorded exactly this


class HistoryAnchorOut(msgspec.Struct, kw_only=True):
    day: dt.date
    seq: int
    row_hash: str  # hex
    signature: str  # base64url, unpadded; over permits.anchors.anchor_message
    kid: str
    created_at: dt.datetime


def history_entry_out(entry: HistoryEntry) -> HistoryEntryOut:
    return HistoryEntryOut(
        seq=entry.seq,
        event=entry.event,
        actor=HistoryActorOut(role=entry.actor_role, account_id=entry.actor_account_id),  # type: ignore[arg-type]
        at=entry.at,
        application_id=entry.application_id,
        task_id=entry.task_id,
        permit_number=entry.permit_number,
        payload=entry.payload,
        row_hash=entry.row_hash.hex(),
    )


def _anchor_out(anchor: anchors.Anchor) -> HistoryAnchorOut:
    return HistoryAnchorOut(
        day=anchor.day,
        seq=anchor.seq,
        row_hash=anchor.row_hash,
        signature=anchor.signature,
        kid=anchor.kid,
        created_at=anchor.created_at,
    )


class HistoryAnchorController(Controller):
    path = "/history-anchors"
    tags = ("history",)

    @get(
        "/",
        operation_id="listHistoryAnchors",
        summary="List the signed daily heads of the permits history (public)",
        description=(
            "Public. One anchor per city day, oldest first: the history's last row (`seq`, `row_hash` in hex) "
            "signed with Ed25519 by the key `kid` names (`signature`, base64url, over the bytes "
            '`flexreg history anchor v1\\n` followed by the compact sorted JSON `{"day","row_hash","seq"}`). '
            "Keep copies: `flexreg verify-audit --anchors FILE` checks the history against them, catching an "
            "edited, deleted or cut-off row even if the database itself was rewritten."
        ),
    )
    async def list_history_anchors(
        self, session: DbSession, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[HistoryAnchorOut]:
        page = await anchors.list_anchors(session, limit=limit, cursor=cursor)
        return page_of([_anchor_out(anchor) for anchor in page.items], page)
