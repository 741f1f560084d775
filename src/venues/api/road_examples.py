"""Examples of the road-occupancy Structs, in one story: 李建国 sells cooked snacks from a 1.5 × 1.2 m stall on
the sidewalk night-market zone of 东华门大街, Dongcheng, on a Saturday evening; the zone's joint approval covers
the evening, so the request is approved at once and pays no fee."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import msgspec

from core.geojson import Polygon
from venues.api.road import OccupancyPeriod, RequestRoadOccupancy, RoadOccupancyOut
from venues.road_rules import FEE_EXEMPTION_BASIS, RoadCheck

_CITY = ZoneInfo("Asia/Shanghai")
_ZONE = uuid.UUID("5b0c3a52-9a3e-4f61-8d0e-6f1f3c2a7d10")
_VENDOR = uuid.UUID("0f8e2d4c-1b7a-4c3e-9f5d-2a6b8c0e4d11")
_OCCUPANCY = uuid.UUID("a3d9c1e7-5f2b-4e8a-b6c4-7d1e9f3a5b12")
# 1.5 m east × 1.2 m north on the south sidewalk of 东华门大街 (WGS84).
_FOOTPRINT = Polygon(
    coordinates=[
        [
            [116.404512, 39.914631],
            [116.404530, 39.914631],
            [116.404530, 39.914642],
            [116.404512, 39.914642],
            [116.404512, 39.914631],
        ]
    ]
)
_EVENING = OccupancyPeriod(
    start=dt.datetime(2026, 6, 20, 18, 0, tzinfo=_CITY), end=dt.datetime(2026, 6, 20, 22, 0, tzinfo=_CITY)
)
_CHECKS = [
    RoadCheck(check="zone_open", passed=True, detail="the zone is open for every period"),
    RoadCheck(check="activity_allowed", passed=True, detail="the zone allows prepared_food"),
    RoadCheck(check="within_schedule", passed=True, detail="every period lies inside an opening session"),
    RoadCheck(
        check="duration",
        passed=True,
        detail="spans 0.17 days, within 90; no period over 24 h",
        measured=0.17,
        limit=90.0,
    ),
    RoadCheck(check="inside_venue", passed=True, detail="the footprint lies inside its venue"),
    RoadCheck(
        check="no_overlap",
        passed=True,
        detail="the footprint overlaps no occupancy or allocated pitch of the zone in its periods",
    ),
    RoadCheck(
        check="clear_of_restricted",
        passed=True,
        detail="41.3 m from fire_hydrant 7c2e…; required more than 30.0 m",
        feature="7c2e5a18-3d4f-4b6a-9e1c-5f8a2d7b3c13",
        kind="fire_hydrant",
        distance_m=41.3,
        required_m=30.0,
    ),
    RoadCheck(check="area_cap", passed=True, detail="1.8 m², within the 2.0 m² cap", measured=1.8, limit=2.0),
    RoadCheck(
        check="walkway_clear",
        passed=True,
        detail="the walkway left is at least 1.8 m wide (about 2.6 m)",
        measured=2.6,
        limit=1.8,
    ),
    RoadCheck(check="capacity", passed=True, detail="at most 7 of 20 occupancies at once", measured=7.0, limit=20.0),
]


def examples() -> list[msgspec.Struct]:
    decided = dt.datetime(2026, 6, 15, 10, 2, 31, tzinfo=dt.UTC)
    return [
        RequestRoadOccupancy(zone_id=_ZONE, footprint=_FOOTPRINT, periods=[_EVENING], activity_code="cooked_snacks"),
        RoadOccupancyOut(
            id=_OCCUPANCY,
            zone_id=_ZONE,
            vendor_id=_VENDOR,
            status="approved",
            activity_code="cooked_snacks",
            footprint=_FOOTPRINT,
            area_m2=1.8,
            periods=[_EVENING],
            fee_cny=0,
            fee_exemption_basis=FEE_EXEMPTION_BASIS,
            checks=_CHECKS,
            venue_revision=3,
            rules_version="2026.1",
            application_id=None,
            created_at=decided,
            decided_at=decided,
            withdrawn_at=None,
        ),
        _EVENING,
        _CHECKS[6],
    ]
