"""The pure checks of a road-occupancy request (venues.road_rules), on fixed instants."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from registry.catalogue import load_catalogue
from tests.venues.helpers import box, point
from venues import road_rules, siting
from venues.road_rules import Holding, RoadCheck, Zone
from venues.schedule import calendar

CITY = ZoneInfo("Asia/Shanghai")
SIDEWALK = box(0, 0, 40, 3.6)
STALL = box(10, 0, 11.2, 1.2)
SHOE_REPAIR = load_catalogue().activity("shoe_repair")
RULES = siting.load_siting_rules()


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=CITY)


def zone(**overrides: Any) -> Zone:
    fields: dict[str, Any] = {
        "shape": SIDEWALK,
        "status": "open",
        "status_from": None,
        "status_until": None,
        "allowed_categories": ["convenience_services"],
        "capacity": None,
        "min_clearance_m": None,
        "calendar": calendar(
            [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "18:00", "end": "02:00"}],
            valid_from=dt.date(2026, 1, 1),
            valid_to=None,
            zone=CITY,
        ),
    }
    fields.update(overrides)
    return Zone(**fields)


def checks(periods: list[road_rules.Period], **kwargs: Any) -> dict[str, RoadCheck]:
    zone_ = kwargs.pop("zone", None) or zone()
    found = road_rules.check_road_occupancy(STALL, zone=zone_, periods=periods, activity=SHOE_REPAIR, **kwargs)
    return {check.check: check for check in found}


def occupancy(ref: str, shape: Any, *periods: road_rules.Period) -> Holding:
    return Holding(ref=ref, shape=shape, periods=list(periods), is_occupancy=True)


EVENING = (at(16, 19), at(16, 21))


def test_a_clear_request_passes_every_check_in_order() -> None:
    found = road_rules.check_road_occupancy(STALL, zone=zone(), periods=[EVENING], activity=SHOE_REPAIR)
    assert [c.check for c in found] == [
        "zone_open",
        "activity_allowed",
        "within_schedule",
        "duration",
        "inside_venue",
        "no_overlap",
        "clear_of_restricted",
        "area_cap",
        "walkway_clear",
        "capacity",
    ]
    assert all(c.passed for c in found)
    assert road_rules.refused_fields(found) == []


def test_a_night_session_past_midnight_covers_a_period_ending_at_one() -> None:
    assert checks([(at(16, 23), at(17, 1))])["within_schedule"].passed
    refused = checks([(at(16, 23), at(17, 3))])["within_schedule"]
    assert not refused.passed
    assert refused.field == "periods[0]"


def test_back_to_back_periods_do_not_overlap_in_space_or_count_at_once() -> None:
    before = occupancy("a", STALL, (at(16, 18), at(16, 19)))
    after = occupancy("b", STALL, (at(16, 21), at(16, 23)))
    found = checks([EVENING], holdings=[before, after], zone=zone(capacity=1))
    assert found["no_overlap"].passed
    assert found["capacity"].passed
    assert found["capacity"].measured == 1.0


def test_capacity_counts_the_busiest_instant_not_every_overlap() -> None:
    # Three others in the evening, never more than two at once: a third fits a zone of three.
    others = [
        occupancy("a", box(20, 0, 21, 1), (at(16, 19), at(16, 20))),
        occupancy("b", box(22, 0, 23, 1), (at(16, 20), at(16, 21))),
        occupancy("c", box(24, 0, 25, 1), (at(16, 19, 30), at(16, 20, 30))),
    ]
    assert checks([EVENING], holdings=others, zone=zone(capacity=3))["capacity"].passed
    full = checks([EVENING], holdings=others, zone=zone(capacity=2))["capacity"]
    assert not full.passed
    assert full.measured == 3.0
    assert full.periods == [0]


def test_allocated_pitches_hold_space_but_do_not_use_capacity() -> None:
    pitch = Holding(ref="pitch A-1", shape=box(20, 0, 21, 1), periods=[(at(16, 0), at(17, 0))], is_occupancy=False)
    assert checks([EVENING], holdings=[pitch], zone=zone(capacity=1))["capacity"].passed


def test_overlap_and_walkway_name_only_the_periods_they_fail_for() -> None:
    # Across the stall, a 1.2 m deep one leaves 1.2 m of a 3.6 m sidewalk, during the second period only.
    across = occupancy("across", box(10, 2.4, 11.2, 3.6), (at(17, 19), at(17, 21)))
    on_top = occupancy("on top", box(10.5, 0, 11.5, 1), (at(18, 19), at(18, 21)))
    periods = [EVENING, (at(17, 19), at(17, 21)), (at(18, 19), at(18, 21))]
    found = checks(periods, holdings=[across, on_top])
    assert not found["walkway_clear"].passed
    assert found["walkway_clear"].periods == [1]
    assert found["walkway_clear"].measured == pytest.approx(1.2, abs=0.02)
    assert not found["no_overlap"].passed
    assert found["no_overlap"].periods == [2]
    assert found["no_overlap"].refs == ["on top"]
    assert found["no_overlap"].field == "footprint"


def test_a_passed_walkway_reports_the_narrowest_period() -> None:
    beside = occupancy("beside", box(10, 3.0, 11.2, 3.6), (at(17, 19), at(17, 21)))
    found = checks([EVENING, (at(17, 19), at(17, 21))], holdings=[beside])
    assert found["walkway_clear"].passed
    assert found["walkway_clear"].measured == pytest.approx(1.8, abs=0.02)


def test_a_period_of_exactly_the_maximum_passes_and_a_minute_more_fails() -> None:
    always = zone(
        calendar=calendar(
            [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "05:59"}],
            valid_from=dt.date(2026, 1, 1),
            valid_to=None,
            zone=CITY,
        )
    )
    assert checks([(at(16, 6), at(17, 6))], zone=always)["duration"].passed
    longer = checks([(at(16, 6), at(17, 6, 1))], zone=always)["duration"]
    assert not longer.passed
    assert longer.periods == [0]
    assert longer.limit == 24


def test_a_request_spans_at_most_the_rules_days() -> None:
    first = (at(1, 19), at(1, 21))
    ninety = (first[0] + dt.timedelta(days=90) - dt.timedelta(hours=2), first[0] + dt.timedelta(days=90))
    assert checks([first, ninety])["duration"].passed
    beyond = (ninety[0] + dt.timedelta(minutes=1), ninety[1] + dt.timedelta(minutes=1))
    refused = checks([first, beyond])["duration"]
    assert not refused.passed
    assert refused.field == "periods"
    assert refused.limit == 90


def test_a_suspension_refuses_only_the_periods_it_covers() -> None:
    suspended = zone(status="suspended", status_from=at(17, 0), status_until=at(18, 0))
    assert checks([EVENING], zone=suspended)["zone_open"].passed
    refused = checks([EVENING, (at(17, 19), at(17, 21))], zone=suspended)["zone_open"]
    assert not refused.passed
    assert refused.periods == [1]
    assert refused.field == "zone_id"
    assert not checks([EVENING], zone=zone(status="closed"))["zone_open"].passed


def test_a_closure_refuses_only_the_periods_that_end_after_its_from() -> None:
    closing = zone(status="closed", status_from=at(17, 0))
    assert checks([EVENING], zone=closing)["zone_open"].passed, "the closure has not begun on the 16th"
    refused = checks([EVENING, (at(17, 19), at(17, 21)), (at(20, 19), at(20, 21))], zone=closing)["zone_open"]
    assert not refused.passed
    assert refused.periods == [1, 2]
    assert refused.field == "zone_id"


def test_the_activitys_category_chooses_the_buffers() -> None:
    gate = siting.Feature(ref="gate", kind="school_gate", shape=point(10.6, 80))
    food = load_catalogue().activity("prepackaged_snacks")
    allowed = zone(allowed_categories=["convenience_services", "prepackaged_food"])
    found = road_rules.check_road_occupancy(
        STALL, zone=allowed, periods=[EVENING], activity=SHOE_REPAIR, features=[gate]
    )
    assert all(c.passed for c in found)
    found = road_rules.check_road_occupancy(STALL, zone=allowed, periods=[EVENING], activity=food, features=[gate])
    [refused] = [c for c in found if not c.passed]
    assert refused.check == "clear_of_restricted"
    assert refused.required_m == 100.0
    assert refused.distance_m == pytest.approx(78.8, abs=0.01)


@pytest.mark.parametrize(
    ("carriageway", "valid_to", "end", "route"),
    [
        (False, dt.date(2026, 6, 16), at(16, 21), "approve"),
        # Ending at midnight, the period's last day is the 16th.
        (False, dt.date(2026, 6, 16), at(17, 0), "approve"),
        (False, dt.date(2026, 6, 16), at(17, 0, 1), "permit"),
        (False, None, at(16, 21), "permit"),
        (True, dt.date(2026, 12, 31), at(16, 21), "permit"),
    ],
)
def test_only_a_sidewalk_with_a_joint_approval_covering_every_period_approves_at_once(
    carriageway: bool, valid_to: dt.date | None, end: dt.datetime, route: str
) -> None:
    got, why = road_rules.approval_route(
        is_carriageway=carriageway, joint_approval_valid_to=valid_to, periods=[(at(16, 19), end)], zone=CITY
    )
    assert got == route
    assert why
