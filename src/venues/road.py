"""Road-occupancy requests: a vendor asks for a footprint of a road zone for some periods (measure (5) of
国办发〔2020〕27号; 城市道路管理条例 Art. 31, 37).

The request is checked (`venues.road_rules`: zone open, activity, hours and validity, duration, the siting
checks, no overlap in space and time, walkway left clear, capacity). A sidewalk zone with a joint approval of
the road authority and the traffic police covering every period approves it at once, fee 0; any other road
zone hands it to the permit flow, where it waits as `pending_permit` and holds its slot meanwhile.

Races: the request locks the zone's venue row (`SELECT … FOR UPDATE`) before it reads what holds the zone,
then checks and inserts in the same transaction; pitch creation locks the same row, so road requests, pending
requests and pitches of one zone are decided one at a time, in every app process.

Venues never imports permits: it defines `PermitFlow`, and the app factory wires in an implementation.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.db import driver_connection
from core.errors import FieldError, Forbidden, InvalidInput, sqlstate_of
from core.geojson import CoordinateSystem, Polygon
from core.pagination import Page, keyset_page
from registry import catalogue
from venues import features as venue_features
from venues import geo, road_rules, siting
from venues.access import readable_occupancies
from venues.errors import (
    NotARoadZone,
    PermitFlowUnavailable,
    RoadOccupancyNotActive,
    RoadOccupancyNotFound,
    RoadOccupancyRefused,
    VenueNotFound,
    ZoneBusy,
)
from venues.models import (
    HOLDING_OCCUPANCY_STATUSES,
    OccupancyStatus,
    RoadOccupancy,
    RoadOccupancyPeriod,
)
from venues.road_rules import FEE_EXEMPTION_BASIS, Period, RoadCheck
from venues.schedule import calendar

SettledOutcome = Literal["approved", "refused", "withdrawn"]

# A phone's clock and the network may lag: a period may start this much before the service's now.
START_GRACE: Final = dt.timedelta(minutes=5)
_LOCK_NOT_AVAILABLE: Final = "55P03"

# The request's statements are hand-written and sent straight to the driver (core.db.driver_connection), in
# the request's transaction: building, compiling and flushing them through the ORM cost more CPU than the
# checks themselves. Columns are those of venues.models (Venue, RoadOccupancy, RoadOccupancyPeriod, Pitch,
# RoundPitch, Allocation); tests/venues cover every path.
_LOCK_ZONE_SQL: Final = """
SELECT id, kind, geometry::text, min_lon, min_lat, max_lon, max_lat, status, status_from, status_until,
       allowed_categories, capacity, min_clearance_m, schedule, closed_dates, valid_from, valid_to,
       is_carriageway, joint_approval_valid_to, version
  FROM venues_venue
 WHERE id = $1
   FOR UPDATE
"""
# What holds the zone, in one statement: the periods of approved and pending occupancies ($2) whose hull and
# own period meet the request's hull ($3), in occupancy and period order; then pitches offered in a round or
# held by an allocation for a term meeting the request's days ($4 … $5), by label and term.
_HOLDINGS_SQL: Final = """
SELECT 0 AS source, o.id AS occupancy_id, d.position, d.during, o.footprint::text AS geometry,
       NULL::text AS label, NULL::date AS term_start, NULL::date AS term_end
  FROM venues_road_occupancy AS o
  JOIN venues_road_occupancy_period AS d ON d.occupancy_id = o.id
 WHERE o.zone_id = $1 AND o.status = ANY($2::text[]) AND o.span && $3::tstzrange AND d.during && $3::tstzrange
UNION ALL
SELECT 1, NULL, NULL, NULL, p.geometry::text, p.label, r.term_start, r.term_end
  FROM venues_pitch AS p
  JOIN venues_round_pitch AS r ON r.pitch_id = p.id
 WHERE p.venue_id = $1 AND r.term_start <= $5 AND r.term_end >= $4
UNION ALL
SELECT 1, NULL, NULL, NULL, p.geometry::text, p.label, a.term_start, a.term_end
  FROM venues_pitch AS p
  JOIN venues_allocation AS a ON a.pitch_id = p.id AND a.status = 'held'
 WHERE p.venue_id = $1 AND a.term_start <= $5 AND a.term_end >= $4
 ORDER BY source, occupancy_id, position, label, term_start, term_end
"""
# The occupancy and its periods in one statement (the periods' foreign key is checked at its end, when the
# occupancy row is there). Periods are numbered from 0 in the order given.
_INSERT_SQL: Final = """
WITH occupancy AS (
    INSERT INTO venues_road_occupancy (
        id, zone_id, venue_revision, vendor_id, activity_code, footprint, min_lon, min_lat, max_lon, max_lat,
        area_m2, span, checks, rules_version, status, fee_cny, fee_exemption_basis, application_id, created_at,
        decided_at
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16, $17, $18, $19)
)
INSERT INTO venues_road_occupancy_period (occupancy_id, position, during)
SELECT $1, (p.n - 1)::int, tstzrange(p.lower, p.upper, '[)')
  FROM unnest($20::timestamptz[], $21::timestamptz[]) WITH ORDINALITY AS p(lower, upper, n)
"""


class PermitFlow(Protocol):
    """Where a road-occupancy request that needs a permit goes (permits implements it; the app wires it in).

    Both calls run in the request's transaction on its session and must not commit. The occupancy row is
    written after `open_road_occupancy_application` returns (it must name the application), so the permit
    side refers to `occupancy_id` without a foreign key that would need the row first.
    """

    async def open_road_occupancy_application(
        self,
        session: AsyncSession,
        *,
        occupancy_id: uuid.UUID,
        vendor_id: uuid.UUID,
        zone_id: uuid.UUID,
        activity_code: str,
        periods: Sequence[Period],
    ) -> uuid.UUID:
        """Open the application for a road-occupancy permit; its id. Raise a DomainError to refuse."""
        ...

    async def road_occupancy_withdrawn(
        self, session: AsyncSession, *, occupancy_id: uuid.UUID, application_id: uuid.UUID
    ) -> None:
        """The vendor is withdrawing an occupancy that went through the permit flow (called before the occupancy
        row changes): an open application goes with it; an approved one's permit is given up too."""
        ...


class NoPermitFlow:
    """The permit flow until permits implements it: refuses honestly, approves nothing, writes nothing."""

    async def open_road_occupancy_application(
        self,
        session: AsyncSession,
        *,
        occupancy_id: uuid.UUID,
        vendor_id: uuid.UUID,
        zone_id: uuid.UUID,
        activity_code: str,
        periods: Sequence[Period],
    ) -> uuid.UUID:
        raise PermitFlowUnavailable(
            "This zone's requests need a road-occupancy permit; the one-stop permit application is not yet available"
        )

    async def road_occupancy_withdrawn(
        self, session: AsyncSession, *, occupancy_id: uuid.UUID, application_id: uuid.UUID
    ) -> None:
        return None  # nothing is ever pending without a permit flow


class OccupancyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An occupancy as its readers see it."""

    id: uuid.UUID
    zone_id: uuid.UUID
    venue_revision: int
    vendor_id: uuid.UUID
    activity_code: str
    footprint: dict[str, Any]
    area_m2: float
    periods: list[Period]
    status: OccupancyStatus
    fee_cny: int
    fee_exemption_basis: str
    checks: list[RoadCheck]
    rules_version: str
    application_id: uuid.UUID | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


# --- requesting -----------------------------------------------------------------------------------------------


async def request_road_occupancy(
    session: AsyncSession,
    principal: Principal,
    *,
    zone_id: uuid.UUID,
    footprint: Polygon,
    coordinate_system: CoordinateSystem = "wgs84",
    periods: Sequence[Period],
    activity_code: str,
    permit_flow: PermitFlow,
    now: dt.datetime,
    city: ZoneInfo,
    rules: siting.SitingRules | None = None,
) -> OccupancyRecord:
    """Check a vendor's request for part of a road zone and approve it, or hand it to the permit flow.

    Refuses, in this order: not a vendor (403); an unknown activity, a footprint shapely refuses, periods in
    the past or overlapping each other (422 `validation_failed`, naming the field); an unknown zone (404
    `venue_not_found`); a venue that is not a road zone (422 `not_a_road_zone`); a zone whose lock is not free
    in time (409 `zone_busy`); any failed check (422 `road_occupancy_refused`, every check reported, failed
    ones in `errors` with their field); a zone that needs a permit while no permit flow exists (409
    `permit_flow_unavailable`).
    """
    require_role(principal, "vendor")
    if principal.vendor_id is None:
        raise Forbidden("Only a registered vendor may request road occupancy")
    rules = rules or siting.load_siting_rules()
    activity = catalogue.load_catalogue().find_activity(activity_code)
    if activity is None:
        raise InvalidInput.for_field("activity_code", "is not a known activity; GET /activities lists them")
    try:
        shape = geo.to_shape(footprint, field="footprint", coordinate_system=coordinate_system)
    except geo.GeometryError as exc:
        raise InvalidInput.for_field(exc.field, exc.reason) from None
    _check_periods(periods, now)

    zone = await _lock_zone(session, zone_id)
    if zone.kind != "road_zone":
        raise NotARoadZone(f"This venue is a {zone.kind}; road occupancy is requested on road zones only")
    zone_shape = geo.stored_shape(zone.geometry)
    hull: Period = (min(start for start, _ in periods), max(end for _, end in periods))
    near = await venue_features.features_near(
        session, (zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat), [activity.category]
    )
    features = [venue_features.as_siting_feature(feature) for feature in near]
    holdings = await _holdings(session, zone.id, hull, periods, city)
    checks = road_rules.check_road_occupancy(
        shape,
        zone=road_rules.Zone(
            shape=zone_shape,
            status=zone.status,
            status_from=zone.status_from,
            status_until=zone.status_until,
            allowed_categories=zone.allowed_categories,
            capacity=zone.capacity,
            min_clearance_m=zone.min_clearance_m,
            calendar=calendar(
                zone.schedule,
                closed_dates=zone.closed_dates or (),
                valid_from=zone.valid_from,
                valid_to=zone.valid_to,
                zone=city,
            ),
        ),
        periods=periods,
        activity=activity,
        holdings=holdings,
        features=features,
        rules=rules,
    )
    if not all(check.passed for check in checks):
        errors = [FieldError(field, reason) for field, reason in road_rules.refused_fields(checks)]
        raise RoadOccupancyRefused("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors, checks=checks)

    route, _why = road_rules.approval_route(
        is_carriageway=zone.is_carriageway,
        joint_approval_valid_to=zone.joint_approval_valid_to,
        periods=periods,
        zone=city,
    )
    occupancy_id = uuid.uuid4()
    application_id: uuid.UUID | None = None
    if route == "permit":
        application_id = await permit_flow.open_road_occupancy_application(
            session,
            occupancy_id=occupancy_id,
            vendor_id=principal.vendor_id,
            zone_id=zone.id,
            activity_code=activity.code,
            periods=periods,
        )
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    stored = msgspec.to_builtins(geo.to_geojson(shape))
    checks_stored = msgspec.to_builtins(checks)
    status = "approved" if route == "approve" else "pending_permit"
    decided_at = now if route == "approve" else None
    area = round(geo.area_m2(shape, projection=geo.projection_of(zone_shape)), 3)
    driver = await driver_connection(session)
    await driver.execute(
        _INSERT_SQL,
        occupancy_id,
        zone.id,
        zone.version,
        principal.vendor_id,
        activity.code,
        # JSON text as SQLAlchemy's JSONB type would send it (json.dumps); the driver's codec takes text.
        json.dumps(stored),
        min_lon,
        min_lat,
        max_lon,
        max_lat,
        area,
        asyncpg.Range(hull[0], hull[1]),
        json.dumps(checks_stored),
        rules.version,
        status,
        FEE_EXEMPTION_BASIS,
        application_id,
        now,
        decided_at,
        [start for start, _ in periods],
        [end for _, end in periods],
    )
    return OccupancyRecord(
        id=occupancy_id,
        zone_id=zone.id,
        venue_revision=zone.version,
        vendor_id=principal.vendor_id,
        activity_code=activity.code,
        footprint=stored,
        area_m2=area,
        periods=list(periods),
        status=msgspec.convert(status, OccupancyStatus),
        fee_cny=0,
        fee_exemption_basis=FEE_EXEMPTION_BASIS,
        checks=msgspec.convert(checks_stored, list[RoadCheck]),
        rules_version=rules.version,
        application_id=application_id,
        created_at=now,
        decided_at=decided_at,
        withdrawn_at=None,
    )


def _check_periods(periods: Sequence[Period], now: dt.datetime) -> None:
    """Periods not already begun (give or take START_GRACE) and not overlapping one another."""
    errors = [
        FieldError(f"periods[{i}].start", "must not be in the past")
        for i, (start, _) in enumerate(periods)
        if start < now - START_GRACE
    ]
    order = sorted(range(len(periods)), key=lambda i: periods[i])
    for before, after in itertools.pairwise(order):
        if road_rules.overlaps(periods[before], periods[after]):
            errors.append(FieldError(f"periods[{max(before, after)}]", f"overlaps periods[{min(before, after)}]"))
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


@dataclass(frozen=True, slots=True)
class _Zone:
    """The columns of a road zone's venue row the request reads."""

    id: uuid.UUID
    kind: str
    geometry: str  # GeoJSON text
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    status: str
    status_from: dt.datetime | None
    status_until: dt.datetime | None
    allowed_categories: list[str]
    capacity: int | None
    min_clearance_m: float | None
    schedule: list[dict[str, Any]]
    closed_dates: list[dt.date] | None
    valid_from: dt.date
    valid_to: dt.date | None
    is_carriageway: bool
    joint_approval_valid_to: dt.date | None
    version: int


async def _lock_zone(session: AsyncSession, zone_id: uuid.UUID) -> _Zone:
    """The zone's venue row, locked until the transaction ends: the one lock every decision on the zone takes."""
    driver = await driver_connection(session)
    try:
        row = await driver.fetchrow(_LOCK_ZONE_SQL, zone_id)
    except asyncpg.PostgresError as exc:
        if sqlstate_of(exc) == _LOCK_NOT_AVAILABLE:
            # lock_timeout: so many requests for this zone that this one waited too long for its turn.
            raise ZoneBusy(headers={"Retry-After": "1"}) from None
        raise
    if row is None:
        raise VenueNotFound()
    return _Zone(*row)


async def _holdings(
    session: AsyncSession, zone_id: uuid.UUID, hull: Period, periods: Sequence[Period], city: ZoneInfo
) -> list[road_rules.Holding]:
    """What holds the zone during the request's periods: approved and pending occupancies (their periods that
    meet the request's), and pitches offered in a round or allocated for a term that meets the request's days
    (all day long)."""
    first_day = hull[0].astimezone(city).date()
    last_day = (hull[1] - dt.timedelta(microseconds=1)).astimezone(city).date()
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _HOLDINGS_SQL, zone_id, list(HOLDING_OCCUPANCY_STATUSES), asyncpg.Range(hull[0], hull[1]), first_day, last_day
    )
    found: dict[uuid.UUID, tuple[str, list[Period]]] = {}
    pitches: list[road_rules.Holding] = []
    seen: set[tuple[str, dt.date, dt.date]] = set()
    for row in rows:
        if row["source"] == 0:
            during: Period = (row["during"].lower, row["during"].upper)
            if any(road_rules.overlaps(during, period) for period in periods):
                found.setdefault(row["occupancy_id"], (row["geometry"], []))[1].append(during)
            continue
        key = (row["label"], row["term_start"], row["term_end"])
        if key in seen:
            continue  # the round's pitch and the allocation it drew for the same term: one holding
        seen.add(key)
        term: Period = (_midnight(row["term_start"], city), _midnight(row["term_end"] + dt.timedelta(days=1), city))
        if any(road_rules.overlaps(term, period) for period in periods):
            pitches.append(
                road_rules.Holding(
                    ref=f"pitch {row['label']}",
                    shape=geo.stored_shape(row["geometry"]),
                    periods=[term],
                    is_occupancy=False,
                )
            )
    return _occupancy_holdings(found) + pitches


def _occupancy_holdings(found: dict[uuid.UUID, tuple[str, list[Period]]]) -> list[road_rules.Holding]:
    return [
        road_rules.Holding(
            ref=f"road occupancy {key}", shape=geo.stored_shape(footprint), periods=held, is_occupancy=True
        )
        for key, (footprint, held) in found.items()
    ]


def _midnight(day: dt.date, city: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=city)


# --- reading --------------------------------------------------------------------------------------------------


def _record(occupancy: RoadOccupancy, periods: list[Period]) -> OccupancyRecord:
    return OccupancyRecord(
        id=occupancy.id,
        zone_id=occupancy.zone_id,
        venue_revision=occupancy.venue_revision,
        vendor_id=occupancy.vendor_id,
        activity_code=occupancy.activity_code,
        footprint=occupancy.footprint,
        area_m2=occupancy.area_m2,
        periods=periods,
        status=msgspec.convert(occupancy.status, OccupancyStatus),
        fee_cny=occupancy.fee_cny,
        fee_exemption_basis=occupancy.fee_exemption_basis,
        checks=msgspec.convert(occupancy.checks, list[RoadCheck]),
        rules_version=occupancy.rules_version,
        application_id=occupancy.application_id,
        created_at=occupancy.created_at,
        decided_at=occupancy.decided_at,
        withdrawn_at=occupancy.withdrawn_at,
    )


async def _periods_of(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Period]]:
    found: dict[uuid.UUID, list[Period]] = {key: [] for key in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(RoadOccupancyPeriod.occupancy_id, RoadOccupancyPeriod.during)
        .where(RoadOccupancyPeriod.occupancy_id.in_(ids))
        .order_by(RoadOccupancyPeriod.occupancy_id, RoadOccupancyPeriod.position)
    )
    for row in rows:
        found[row.occupancy_id].append((row.during.lower, row.during.upper))
    return found


async def get_road_occupancy(session: AsyncSession, principal: Principal, occupancy_id: uuid.UUID) -> OccupancyRecord:
    """One occupancy in the caller's scope (its vendor, the zone's street office, admin); 404 outside it."""
    occupancy = await session.scalar(
        select(RoadOccupancy).where(RoadOccupancy.id == occupancy_id, readable_occupancies(principal))
    )
    if occupancy is None:
        raise RoadOccupancyNotFound()
    periods = await _periods_of(session, [occupancy.id])
    return _record(occupancy, periods[occupancy.id])


async def list_road_occupancies(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    status: OccupancyStatus | None = None,
    zone_id: uuid.UUID | None = None,
) -> Page[OccupancyRecord]:
    """Occupancies in the caller's scope, oldest first, optionally by status and zone."""
    query = select(RoadOccupancy).where(readable_occupancies(principal))
    if status is not None:
        query = query.where(RoadOccupancy.status == status)
    if zone_id is not None:
        query = query.where(RoadOccupancy.zone_id == zone_id)
    page: Page[RoadOccupancy] = await keyset_page(
        session,
        query,
        (RoadOccupancy.created_at, RoadOccupancy.id),
        limit=limit,
        cursor=cursor,
        key=lambda occupancy: (occupancy.created_at, occupancy.id),
    )
    periods = await _periods_of(session, [occupancy.id for occupancy in page.items])
    return Page(items=[_record(o, periods[o.id]) for o in page.items], next_cursor=page.next_cursor)


# --- settling what the permit flow decided -------------------------------------------------------------------


async def settle_pending_occupancy(
    session: AsyncSession, occupancy_id: uuid.UUID, *, outcome: SettledOutcome, now: dt.datetime
) -> bool:
    """The permit flow's answer for a `pending_permit` occupancy: approved (the permit issued), refused (a
    department rejected it) or withdrawn (the applicant withdrew the application). False if it was no longer
    pending (its holder withdrew it first), so the caller's decision does not resurrect it."""
    values: dict[str, Any] = {"status": outcome, "decided_at": now}
    if outcome == "withdrawn":
        values = {"status": outcome, "withdrawn_at": now}
    settled = await session.execute(
        update(RoadOccupancy)
        .where(RoadOccupancy.id == occupancy_id, RoadOccupancy.status == "pending_permit")
        .values(**values)
        .returning(RoadOccupancy.id)
    )
    return settled.first() is not None


# --- withdrawing ----------------------------------------------------------------------------------------------


async def withdraw_road_occupancy(
    session: AsyncSession,
    principal: Principal,
    occupancy_id: uuid.UUID,
    *,
    permit_flow: PermitFlow,
    now: dt.datetime,
) -> OccupancyRecord:
    """The holder gives an approved or pending occupancy up; its place and time are free again at once.

    Only the vendor who holds it (anyone else 404, staff 403). One statement decides: of two withdrawals at
    once, the second finds it no longer approved or pending (409 `road_occupancy_not_active`).
    """
    require_role(principal, "vendor")
    # The permit side first: it locks the application before this locks the occupancy, the order a decision
    # takes too (application, then occupancy), so a withdrawal and a last approval at once never deadlock.
    waiting_on = await session.scalar(
        select(RoadOccupancy.application_id).where(
            RoadOccupancy.id == occupancy_id,
            readable_occupancies(principal),
            RoadOccupancy.status.in_(HOLDING_OCCUPANCY_STATUSES),
        )
    )
    if waiting_on is not None:
        await permit_flow.road_occupancy_withdrawn(session, occupancy_id=occupancy_id, application_id=waiting_on)
    withdrawn = (
        await session.execute(
            update(RoadOccupancy)
            .where(
                RoadOccupancy.id == occupancy_id,
                readable_occupancies(principal),
                RoadOccupancy.status.in_(HOLDING_OCCUPANCY_STATUSES),
            )
            .values(status="withdrawn", withdrawn_at=now)
            .returning(RoadOccupancy.application_id)
        )
    ).first()
    if withdrawn is None:
        status = await session.scalar(
            select(RoadOccupancy.status).where(RoadOccupancy.id == occupancy_id, readable_occupancies(principal))
        )
        if status is None:
            raise RoadOccupancyNotFound()
        raise RoadOccupancyNotActive(f"This road occupancy is already {status}")
    return await get_road_occupancy(session, principal, occupancy_id)
