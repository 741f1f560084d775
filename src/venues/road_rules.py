"""The checks of a road-occupancy request (issue 6 item 6; 城市道路管理条例 Art. 31). Pure: no I/O.

A request asks for one footprint of a road zone for some periods. Every check is reported, passed or not, and
a failed one names the request field it judges and, where time matters, the periods it failed for:

- `zone_open`: the zone is not closed, nor suspended during a period;
- `activity_allowed`: the activity's category is one the zone allows, and stalls may sell it at all;
- `within_schedule`: each period lies inside one opening session of the zone's schedule and validity dates;
- `duration`: each period, and the whole request from first start to last end, within the rules' maxima;
- `inside_venue`, `clear_of_restricted`, `area_cap`: the pitch checks of `venues.siting` for the footprint;
- `no_overlap`, `walkway_clear`: against the footprints that hold the zone in an overlapping period (approved
  and pending occupancies, allocated pitches) — the walkway is the sidewalk minus all of them at once;
- `capacity`: the zone's limit of occupancies at once, counted at the busiest instant of each period.

Time overlap is of half-open periods [start, end): one stall leaving at 20:00 and the next arriving at 20:00 do
not meet.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from registry.catalogue import Activity, Category
from venues import geo, siting
from venues.schedule import Calendar

RoadCheckName = Literal[
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

# Measure (5) of 国办发〔2020〕27号 waives, for approved occupation, the road-occupancy fee (城市道路占用费) that
# Art. 37 of 城市道路管理条例 levies; every occupancy records it (fee_cny is 0 by a CHECK constraint).
FEE_EXEMPTION_BASIS: Final = (
    "国办发〔2020〕27号 measure (5): approved occupation of a city road for a stall pays no road-occupancy fee; "
    "城市道路管理条例 Art. 37 (城市道路占用费) waived"
)

Period = tuple[dt.datetime, dt.datetime]
"""[start, end) as aware instants."""


class RoadCheck(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One check of a road-occupancy request: `field` is the request field a failed check judges, `periods`
    the indexes (from 0) of the periods it failed for; the siting checks keep their numbers."""

    check: RoadCheckName
    passed: bool
    detail: str
    field: str | None = None
    periods: list[int] | None = None
    feature: str | None = None
    kind: str | None = None
    distance_m: float | None = None
    required_m: float | None = None
    overlap_forbidden: bool | None = None
    measured: float | None = None
    limit: float | None = None
    refs: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """What the checks need of a road zone (the venue row at the revision used)."""

    shape: geo.Shape
    status: str
    status_from: dt.datetime | None
    status_until: dt.datetime | None
    allowed_categories: Sequence[str]
    capacity: int | None
    min_clearance_m: float | None
    calendar: Calendar


@dataclass(frozen=True, slots=True)
class Holding:
    """A footprint that holds part of the zone: an approved or pending occupancy, or an allocated pitch."""

    ref: str
    shape: geo.Shape
    periods: Sequence[Period]
    is_occupancy: bool


def overlaps(a: Period, b: Period) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_road_occupancy(
    footprint: geo.Shape,
    *,
    zone: Zone,
    periods: Sequence[Period],
    activity: Activity,
    holdings: Sequence[Holding] = (),
    features: Sequence[siting.Feature] = (),
    rules: siting.SitingRules | None = None,
) -> list[RoadCheck]:
    """Every check of a request for `footprint` (WGS84) in `zone` for `periods`, in a fixed order."""
    rules = rules or siting.load_siting_rules()
    if zone.min_clearance_m is not None:
        # The zone's own clearance (set with its joint approval) replaces the city's default walkway.
        rules = dataclasses.replace(rules, min_walkway_m=zone.min_clearance_m)
    checks = [
        _zone_open(zone, periods),
        _activity_allowed(activity, zone.allowed_categories),
        _within_schedule(zone.calendar, periods),
        _duration(periods, rules.road),
    ]
    checks += _geometry(footprint, zone.shape, periods, holdings, features, activity.category, rules)
    checks.append(_capacity(zone.capacity, periods, holdings))
    return checks


def refused_fields(checks: Iterable[RoadCheck]) -> list[tuple[str, str]]:
    """(field, reason) of every failed check, for the problem's `errors`."""
    return [(c.field or "body", c.detail) for c in checks if not c.passed]


# --- time ---------------------------------------------------------------------------------------------------


def _zone_open(zone: Zone, periods: Sequence[Period]) -> RoadCheck:
    # Judged per period, not by the stored status: a suspension refuses only the periods it covers (none once
    # its `until` has passed), and a closure only the periods that end after its `from` (none before it).
    if zone.status in ("suspended", "closed"):
        start = zone.status_from or dt.datetime.min.replace(tzinfo=dt.UTC)
        end = (zone.status_until if zone.status == "suspended" else None) or dt.datetime.max.replace(tzinfo=dt.UTC)
        hit = [i for i, period in enumerate(periods) if overlaps(period, (start, end))]
        if hit:
            if zone.status == "closed":
                since = f" from {zone.status_from.isoformat()}" if zone.status_from else ""
                detail = f"the zone is closed{since}, during {_listed(hit)}"
            else:
                until = f" until {zone.status_until.isoformat()}" if zone.status_until else ""
                detail = f"the zone is suspended{until} during {_listed(hit)}"
            return RoadCheck(check="zone_open", passed=False, detail=detail, field="zone_id", periods=hit)
    return RoadCheck(check="zone_open", passed=True, detail="the zone is open for every period")


def _activity_allowed(activity: Activity, allowed: Sequence[str]) -> RoadCheck:
    if activity.stall_allowed == "blocked":
        return RoadCheck(
            check="activity_allowed",
            passed=False,
            detail=f"{activity.code} may not be sold from a stall at all",
            field="activity_code",
        )
    if activity.category not in allowed:
        return RoadCheck(
            check="activity_allowed",
            passed=False,
            detail=f"the zone allows {', '.join(allowed)}; {activity.code} is {activity.category}",
            field="activity_code",
        )
    return RoadCheck(check="activity_allowed", passed=True, detail=f"the zone allows {activity.category}")


def _within_schedule(calendar: Calendar, periods: Sequence[Period]) -> RoadCheck:
    outside = [i for i, (start, end) in enumerate(periods) if not calendar.covers(start, end)]
    if outside:
        return RoadCheck(
            check="within_schedule",
            passed=False,
            detail=f"{_are(outside)} not inside one opening session of the zone (hours, closed dates, validity)",
            field=f"periods[{outside[0]}]",
            periods=outside,
        )
    return RoadCheck(check="within_schedule", passed=True, detail="every period lies inside an opening session")


def _duration(periods: Sequence[Period], rules: siting.RoadRules) -> RoadCheck:
    longest = dt.timedelta(hours=rules.max_period_hours)
    too_long = [i for i, (start, end) in enumerate(periods) if end - start > longest]
    if too_long:
        hours = max((periods[i][1] - periods[i][0]).total_seconds() / 3600 for i in too_long)
        return RoadCheck(
            check="duration",
            passed=False,
            detail=f"{_are(too_long)} longer than {rules.max_period_hours:g} h ({hours:.2f} h)",
            field=f"periods[{too_long[0]}]",
            periods=too_long,
            measured=round(hours, 2),
            limit=rules.max_period_hours,
        )
    span = max(end for _, end in periods) - min(start for start, _ in periods)
    days = span.total_seconds() / 86400
    if span > dt.timedelta(days=rules.max_duration_days):
        return RoadCheck(
            check="duration",
            passed=False,
            detail=f"the request spans {days:.2f} days; one approval lasts at most {rules.max_duration_days} days",
            field="periods",
            measured=round(days, 2),
            limit=float(rules.max_duration_days),
        )
    return RoadCheck(
        check="duration",
        passed=True,
        detail=f"spans {days:.2f} days, within {rules.max_duration_days}; no period over {rules.max_period_hours:g} h",
        measured=round(days, 2),
        limit=float(rules.max_duration_days),
    )


def _capacity(capacity: int | None, periods: Sequence[Period], holdings: Sequence[Holding]) -> RoadCheck:
    if capacity is None:
        return RoadCheck(check="capacity", passed=True, detail="the zone sets no limit of occupancies at once")
    busiest = 0
    full: list[int] = []
    for i, period in enumerate(periods):
        clipped = [
            (max(p[0], period[0]), min(p[1], period[1]))
            for h in holdings
            if h.is_occupancy
            for p in h.periods
            if overlaps(p, period)
        ]
        at_once = _most_at_once(clipped)
        busiest = max(busiest, at_once)
        if at_once + 1 > capacity:
            full.append(i)
    if full:
        return RoadCheck(
            check="capacity",
            passed=False,
            detail=f"the zone takes {capacity} occupancies at once and is full during {_listed(full)}",
            field=f"periods[{full[0]}]",
            periods=full,
            measured=float(busiest + 1),
            limit=float(capacity),
        )
    return RoadCheck(
        check="capacity",
        passed=True,
        detail=f"at most {busiest + 1} of {capacity} occupancies at once",
        measured=float(busiest + 1),
        limit=float(capacity),
    )


def _most_at_once(intervals: Sequence[Period]) -> int:
    """The largest number of half-open intervals holding at one instant (an end before a start at a tie)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _listed(indexes: Sequence[int]) -> str:
    shown = ", ".join(f"periods[{i}]" for i in indexes[:10])
    return shown + (f" and {len(indexes) - 10} more" if len(indexes) > 10 else "")


def _are(indexes: Sequence[int]) -> str:
    return f"{_listed(indexes)} {'is' if len(indexes) == 1 else 'are'}"


# --- space --------------------------------------------------------------------------------------------------


def _geometry(
    footprint: geo.Shape,
    sidewalk: geo.Shape,
    periods: Sequence[Period],
    holdings: Sequence[Holding],
    features: Sequence[siting.Feature],
    category: Category,
    rules: siting.SitingRules,
) -> list[RoadCheck]:
    """The siting checks: the footprint's own (once), then overlap and walkway per set of holdings in time.

    The first run measures the footprint against the zone and the restricted features; it is told the zone is
    not a road zone only so that it skips the walkway, which depends on time and is measured per period below.
    """
    own = siting.check_pitch(
        footprint,
        venue=siting.Site(kind="designated_zone", shape=sidewalk),
        features=features,
        categories=[category],
        rules=rules,
    )
    checks = [_from_siting(c) for c in own if c.check in ("inside_venue", "clear_of_restricted", "area_cap")]
    # Periods that meet the same holdings are judged once.
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, period in enumerate(periods):
        met = tuple(j for j, h in enumerate(holdings) if any(overlaps(p, period) for p in h.periods))
        groups.setdefault(met, []).append(i)
    overlap: RoadCheck | None = None
    walkway: RoadCheck | None = None
    for met, in_periods in groups.items():
        others = [siting.Footprint(ref=holdings[j].ref, shape=holdings[j].shape) for j in met]
        run = siting.check_pitch(
            footprint, venue=siting.Site(kind="road_zone", shape=sidewalk), others=others, rules=rules
        )
        for check in run:
            if check.check == "no_overlap":
                overlap = _worse(overlap, _overlap(check, in_periods))
            elif check.check == "walkway_clear":
                walkway = _worse(walkway, _walkway(check, in_periods))
    if overlap is None or walkway is None:
        raise ValueError("a request has at least one period")
    inside, *rest = checks
    return [inside, overlap, *rest, walkway]


def _from_siting(check: siting.Check, **changes: object) -> RoadCheck:
    fields = msgspec.structs.asdict(check)
    fields["detail"] = fields["detail"].replace("the pitch", "the footprint")
    if not check.passed:
        fields["field"] = "footprint"
    fields.update(changes)
    return RoadCheck(**fields)


def _overlap(check: siting.Check, periods: list[int]) -> RoadCheck:
    if check.passed:
        detail = "the footprint overlaps no occupancy or allocated pitch of the zone in its periods"
        return _from_siting(check, detail=detail)
    detail = check.detail.replace("the pitch overlaps", "the footprint overlaps") + f" during {_listed(periods)}"
    return _from_siting(check, detail=detail, periods=periods)


def _walkway(check: siting.Check, periods: list[int]) -> RoadCheck:
    if check.passed:
        return _from_siting(check)
    return _from_siting(check, detail=f"{check.detail} during {_listed(periods)}", periods=periods)


def _worse(current: RoadCheck | None, new: RoadCheck) -> RoadCheck:
    """The failed one of two; of two passed walkway checks, the narrower (so the figure is the worst case)."""
    if current is None:
        return new
    if current.passed != new.passed:
        return current if not current.passed else new
    if current.passed and new.measured is not None and current.measured is not None:
        return new if new.measured < current.measured else current
    return current


# --- the route ----------------------------------------------------------------------------------------------

Route = Literal["approve", "permit"]


def approval_route(
    *, is_carriageway: bool, joint_approval_valid_to: dt.date | None, periods: Sequence[Period], zone: dt.tzinfo
) -> tuple[Route, str]:
    """Whether the zone approves at once, and why (城市道路管理条例 Art. 31; sidewalks are road, Art. 2).

    Only a sidewalk zone whose joint approval by the road authority and the traffic police runs until every
    period's last day approves at once; a carriageway, a missing approval or one expiring first sends the
    request to the permit flow.
    """
    if is_carriageway:
        return "permit", "the zone lies on a carriageway: each occupation needs a road-occupancy permit"
    if joint_approval_valid_to is None:
        return "permit", "the zone has no joint approval of the road authority and traffic police"
    # An end at midnight belongs to the day before (the period is half-open).
    last_day = max((end - dt.timedelta(microseconds=1)).astimezone(zone).date() for _, end in periods)
    if last_day > joint_approval_valid_to:
        return "permit", f"the zone's joint approval ends on {joint_approval_valid_to.isoformat()}, before a period"
    return "approve", f"the zone's joint approval runs until {joint_approval_valid_to.isoformat()}"
