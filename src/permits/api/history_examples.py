"""Examples of the history Structs, in one story: the market-supervision department approves 李建国's food
business task on 2026-06-16, and that evening's anchor signs the head the approval left."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import msgspec

from permits.api.history import HistoryActorOut, HistoryAnchorOut, HistoryEntryOut

_CITY = ZoneInfo("Asia/Shanghai")
_APPLICATION = uuid.UUID("7c1f4e2a-3b5d-4a6e-8f90-1a2b3c4d5e61")
_TASK = uuid.UUID("2e4a6c8e-0b1d-4f3a-9c5e-7a9b1c3d5f72")
_REVIEWER = uuid.UUID("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c63")
_HEAD = "5f0c8e2b7a1d4c6e9b3f0a2d4c6e8b1a3c5e7f9b2d4a6c8e0f1b3d5a7c9e2f4b"


def entry_example() -> HistoryEntryOut:
    """One entry of GET /applications/{id}/history."""
    return HistoryEntryOut(
        seq=1042,
        event="task_approved",
        actor=HistoryActorOut(role="department", account_id=_REVIEWER),
        at=dt.datetime(2026, 6, 16, 15, 20, tzinfo=_CITY),
        application_id=_APPLICATION,
        task_id=_TASK,
        permit_number=None,
        payload={"department": "market_supervision", "permit_type": "food_business", "decision_number": "2026-0318"},
        row_hash=_HEAD,
    )


def examples() -> list[msgspec.Struct]:
    return [
        entry_example(),
        HistoryAnchorOut(
            day=dt.date(2026, 6, 16),
            seq=1042,
            row_hash=_HEAD,
            signature="dQ1W3gUpi0NCGc9JuL3VQOASKeDgd0ZLc4XbT-wjf0rUe5Cs0fdky8bikqKHXAQYT7QpsLBbGZrDTHQb9LbbNg",
            kid="history-2026-06",
            created_at=dt.datetime(2026, 6, 16, 23, 55, tzinfo=_CITY),
        ),
    ]
