"""The minimal valid request body of each write the matrix names (`body = "<name>"` in matrix.toml).

Each is valid for the principal the row allows (so its 2xx cell really succeeds); the others must be refused
for who they are, never for the body. A function takes the canary world and returns httpx's keyword arguments
(`json=` or `files=`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.builders import DONGCHENG_SQUARE, id_number, phone_number
from tests.registry.builders import PASSWORD
from tests.venues.builders import ALL_CATEGORIES, EVERY_DAY, box, point
from tests.venues.road_builders import TOMORROW_MORNING, period
from tests.venues.round_builders import CLOSE

from .world import PNG, World

Body = Callable[[World], dict[str, Any]]


def _json(value: dict[str, Any]) -> dict[str, Any]:
    return {"json": value}


def token(world: World) -> dict[str, Any]:
    return _json({"username": world.a.account.username, "password": PASSWORD})


def account(world: World) -> dict[str, Any]:
    return _json({"username": f"clerk_{uuid.uuid4().hex[:8]}", "password": "long enough pass", "role": "admin"})


def jurisdiction(world: World) -> dict[str, Any]:
    return _json({"code": "110101099099", "name": "新设街道", "boundary": DONGCHENG_SQUARE})


def sign_up(world: World) -> dict[str, Any]:
    return _json(
        {
            "username": f"new_{uuid.uuid4().hex[:8]}",
            "password": "long enough pass",
            "name": "赵新",
            "id_number": id_number(),
            "phone": phone_number(),
            "residence_jurisdiction": world.a.jurisdiction.code,
        }
    )


def document(world: World) -> dict[str, Any]:
    return {"files": {"file": ("proof.png", PNG, "image/png")}}


def claim(world: World) -> dict[str, Any]:
    return _json({"group": "laid_off_unemployed", "details": {"registered_unemployed_since": "2024-01-15"}})


def claim_decision(world: World) -> dict[str, Any]:
    return _json({"decision": "rejected", "reason": "材料不全"})


def venue(world: World) -> dict[str, Any]:
    return _json(
        {
            "name": "金丝雀便民市集",
            "kind": "community_space",
            "jurisdiction_code": world.a.jurisdiction.code,
            "geometry": box(-20, 100, 20, 140),
            "schedule": EVERY_DAY,
            "valid_from": "2026-01-01",
            "allowed_categories": ALL_CATEGORIES,
        }
    )


def rename(world: World) -> dict[str, Any]:
    return _json({"name": "金丝雀便民市集（更名）"})


def suspend(world: World) -> dict[str, Any]:
    return _json({"status": "suspended", "reason": "井盖维修"})


def pitch(world: World) -> dict[str, Any]:
    return _json({"label": "N-01", "geometry": box(10, 10, 11, 11)})


def relabel(world: World) -> dict[str, Any]:
    return _json({"label": "R-01"})


def feature(world: World) -> dict[str, Any]:
    return _json({"kind": "bus_stop", "geometry": point(0, -200), "jurisdiction_code": world.a.jurisdiction.code})


def buffer(world: World) -> dict[str, Any]:
    return _json({"buffer_m": 5})


def allocation_round(world: World) -> dict[str, Any]:
    return _json(
        {
            "name": "金丝雀第四季度",
            "pitch_ids": [str(world.a.pitch.id)],
            "term_start": "2026-10-01",
            "term_end": "2026-12-31",
            "applications_close_at": CLOSE.isoformat(),
        }
    )


def choices(world: World) -> dict[str, Any]:
    return _json({"choices": [str(world.open_round_pitch_id)]})


def draw(world: World) -> dict[str, Any]:
    return _json({})


def road(world: World) -> dict[str, Any]:
    zone_id = str(world.a.occupancy.zone_id)
    footprint = box(-10, 30, -8.8, 31.2)
    return _json(
        {
            "zone_id": zone_id,
            "footprint": footprint,
            "periods": [period(*TOMORROW_MORNING)],
            "activity_code": "shoe_repair",
        }
    )


def exemption_check(world: World) -> dict[str, Any]:
    return _json({"activity_code": "shoe_repair", "location": point(0, 0), "periods": [period(*TOMORROW_MORNING)]})


def application(world: World) -> dict[str, Any]:
    return _json({"activity_code": "shoe_repair", "location": point(0, -300), "periods": [period(*TOMORROW_MORNING)]})


def supplement(world: World) -> dict[str, Any]:
    return _json({"document_ids": [world.a.document_id], "note": "补充材料"})


def empty(world: World) -> dict[str, Any]:
    return _json({})


def task_decision(world: World) -> dict[str, Any]:
    return _json({"decision": "approve", "note": "同意"})


def extension(world: World) -> dict[str, Any]:
    return _json({"days": 10, "approved_by": "东城城管局局长", "reason": "需现场勘验"})


def pause(world: World) -> dict[str, Any]:
    return _json(
        {"kind": "testing", "starts_on": "2026-06-16", "ends_on": "2026-06-24", "notice": "现场检验期间不计入期限"}
    )


def permit_status(world: World) -> dict[str, Any]:
    return _json({"status": "suspended", "reason": "占道超出许可范围", "ground": "penalty"})


def sign_in_form(world: World) -> dict[str, Any]:
    return {"data": {"username": world.a.office.username, "password": PASSWORD}}


def refresh(world: World) -> dict[str, Any]:
    return _json({"refresh_token": "not-a-refresh-token-of-anyones-" + "x" * 12})


def new_password(world: World) -> dict[str, Any]:
    return _json({"current_password": PASSWORD, "new_password": "another long enough pass"})


def deactivate(world: World) -> dict[str, Any]:
    return _json({"is_active": False})


def reveal(world: World) -> dict[str, Any]:
    return _json({"purpose": "核对困难人员认定材料"})


BODIES: dict[str, Body] = {
    name: function
    for name, function in globals().items()
    if callable(function) and getattr(function, "__module__", None) == __name__ and not name.startswith("_")
}
