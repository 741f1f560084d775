"""Examples of the application and task Structs, in one story: 王秀英 asks to sell cooked snacks from a stall on
the carriageway lay-by of 东华门大街 on summer evenings; the road authority (urban management) and the traffic
police each review the road-occupancy permit; the police ask for a site plan once, she sends it, both approve."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import msgspec

from core.geojson import Point
from permits.api.applications import (
    ApplicationOut,
    NoticeItemOut,
    NoticeOut,
    SubmitApplication,
    Supplement,
)
from permits.api.tasks import DecideTask, DecisionOut, ExtendTask, LimitOut, MissingItemIn, PauseTask, TaskOut
from permits.clocks import TASK_LIMIT
from venues.api.road import OccupancyPeriod

_CITY = ZoneInfo("Asia/Shanghai")
_APPLICATION = uuid.UUID("6d2f8a14-3c5e-4b7a-9e1d-8f0a2c4e6b21")
_VENDOR = uuid.UUID("0f8e2d4c-1b7a-4c3e-9f5d-2a6b8c0e4d11")
_ZONE = uuid.UUID("5b0c3a52-9a3e-4f61-8d0e-6f1f3c2a7d10")
_OCCUPANCY = uuid.UUID("b4e0d2f8-6a1c-4e3b-8d5f-9c7a1e3b5d22")
_PLAN = uuid.UUID("c5f1e3a9-7b2d-4f4c-9e6a-0d8b2f4c6e23")
_ROAD_TASK = uuid.UUID("d6a2f4b0-8c3e-4a5d-8f7b-1e9c3a5d7f24")
_POLICE_TASK = uuid.UUID("e7b3a5c1-9d4f-4b6e-9a8c-2f0d4b6e8a25")
_RECEIVED = dt.datetime(2026, 6, 15, 9, 30, tzinfo=_CITY)
_EVENINGS = [
    OccupancyPeriod(
        start=dt.datetime(2026, 7, day, 18, 0, tzinfo=_CITY), end=dt.datetime(2026, 7, day, 22, 0, tzinfo=_CITY)
    )
    for day in (4, 11)
]
_MISSING = [MissingItemIn(item="占道平面图", reason="需标明摊位尺寸、与路口的距离和留出的通行宽度")]


def _task(task_id: uuid.UUID, department: str, prefix: str, number: int, decided: dt.datetime) -> TaskOut:
    return TaskOut(
        id=task_id,
        application_id=_APPLICATION,
        department=department,
        permit_type="road_occupancy",
        kind="licence",
        mode="review",
        status="approved",
        green_channel=False,
        due_on=dt.date(2026, 7, 15),
        due_at=dt.datetime(2026, 7, 15, 23, 59, 59, tzinfo=_CITY),
        due_provisional=False,
        statutory_due_on=dt.date(2026, 7, 15),
        limit=LimitOut(days=20, unit="working_day", basis=TASK_LIMIT.basis),
        extension_days=0,
        paused_days=0,
        etag='"4"',
        decision=DecisionOut(
            number=f"{prefix}-2026-{number:06d}",
            decided_at=decided,
            outcome="approved",
            note="同意",
            conditions=["18:00 后出摊，22:00 前收摊并清理路面"] if department == "traffic_police" else [],
            challenge_routes=[],
        ),
        note="同意",
        overdue_action=None,
        extension=None,
        pauses=[],
        commitment=None,
    )


def examples() -> list[msgspec.Struct]:
    submitted = SubmitApplication(
        activity_code="cooked_snacks",
        periods=_EVENINGS,
        location=Point(coordinates=[116.404521, 39.914636]),
        venue_id=_ZONE,
        document_ids=[],
    )
    police = _task(_POLICE_TASK, "traffic_police", "TP", 118, dt.datetime(2026, 6, 19, 15, 0, tzinfo=_CITY))
    return [
        submitted,
        Supplement(document_ids=[_PLAN], note="已按要求补充占道平面图。"),
        DecideTask(decision="request_supplement", note="请补正以下材料：", missing=_MISSING),
        ExtendTask(
            days=10,
            approved_by="东城区交通支队支队长",
            reason="需会同路政部门现场勘验占道位置，勘验排期在法定期限之后。",
        ),
        PauseTask(
            kind="inspection",
            starts_on=dt.date(2026, 6, 24),
            ends_on=dt.date(2026, 6, 26),
            notice="现场勘验定于6月24日至26日进行，期间不计入审查期限（《行政许可法》第四十五条）。",
        ),
        police,
        ApplicationOut(
            id=_APPLICATION,
            vendor_id=_VENDOR,
            activity_code="cooked_snacks",
            status="approved",
            location=None,
            periods=_EVENINGS,
            venue_id=_ZONE,
            venue_revision=3,
            road_occupancy_id=_OCCUPANCY,
            exemption_check_id=None,
            rule_version="城市道路管理条例 Art. 31",
            green_channel=False,
            received_on=_RECEIVED.date(),
            completeness_due_on=dt.date(2026, 6, 23),
            accepted_on=dt.date(2026, 6, 17),
            joint_due_on=dt.date(2026, 8, 19),
            joint_due_provisional=False,
            document_ids=[_PLAN],
            tasks=[
                police,
                _task(_ROAD_TASK, "urban_management", "UM", 121, dt.datetime(2026, 6, 22, 10, tzinfo=_CITY)),
            ],
            notices=[
                NoticeOut(
                    round=1,
                    items=[NoticeItemOut(item=m.item, reason=m.reason, department="traffic_police") for m in _MISSING],
                    before_acceptance=True,
                    opened_at=dt.datetime(2026, 6, 16, 11, 0, tzinfo=_CITY),
                    answered_at=dt.datetime(2026, 6, 17, 8, 40, tzinfo=_CITY),
                    answer_note="已按要求补充占道平面图。",
                    answer_document_ids=[_PLAN],
                )
            ],
            permit_number=None,
            created_at=_RECEIVED,
            decided_at=dt.datetime(2026, 6, 22, 10, 0, tzinfo=_CITY),
            withdrawn_at=None,
        ),
    ]
