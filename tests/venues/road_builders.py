"""Road-occupancy records for tests: sidewalk zones, occupancies and held pitch allocations (direct inserts, no
checks), plus request bodies. Shapes are in metres around DONGCHENG_CENTRE (tests.venues.builders)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Account, Vendor
from tests.clock import CITY
from tests.venues.builders import box, make_pitch, make_venue
from venues import geo
from venues.models import (
    Allocation,
    AllocationRound,
    Holder,
    Pitch,
    RoadOccupancy,
    RoadOccupancyPeriod,
    RoundApplication,
    Venue,
)
from venues.road_rules import FEE_EXEMPTION_BASIS

# A sidewalk 40 m long (x) and 3.6 m wide (y), along the north side of a street.
SIDEWALK = box(-20, 0, 20, 3.6)
ROAD_CATEGORIES = ["agricultural_products", "daily_necessities", "convenience_services", "prepackaged_food"]


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> dt.datetime:
    """An instant on the city's wall clock in 2026 (the suite's clock stands at 2026-06-15 10:00)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=CITY)


TOMORROW_MORNING = (at(16, 10), at(16, 12))


def period(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def body(
    zone: Venue,
    footprint: dict[str, Any] | None = None,
    periods: list[tuple[dt.datetime, dt.datetime]] | None = None,
    activity_code: str = "shoe_repair",
    **extra: Any,
) -> dict[str, Any]:
    """A request for a 1.2 × 1.2 m stall at the sidewalk's west end, tomorrow morning, unless told otherwise."""
    return {
        "zone_id": str(zone.id),
        "footprint": footprint or box(-18, 0, -16.8, 1.2),
        "periods": [period(*p) for p in (periods or [TOMORROW_MORNING])],
        "activity_code": activity_code,
        **extra,
    }


async def make_road_zone(
    session: AsyncSession, *, jurisdiction_code: str, created_by: Account, **overrides: Any
) -> Venue:
    """A sidewalk road zone with its joint approval to the end of 2026, every day 06:00–22:00."""
    fields: dict[str, Any] = {
        "name": "东华门大街南侧人行道",
        "kind": "road_zone",
        "geometry": SIDEWALK,
        "allowed_categories": ROAD_CATEGORIES,
        "joint_approval_road_document": "京东城市政〔2026〕12号",
        "joint_approval_police_document": "京公交东〔2026〕7号",
        "joint_approval_valid_to": dt.date(2026, 12, 31),
    }
    fields.update(overrides)
    return await make_venue(session, jurisdiction_code=jurisdiction_code, created_by=created_by, **fields)


async def make_occupancy(
    session: AsyncSession,
    *,
    zone: Venue,
    vendor: Vendor,
    footprint: dict[str, Any],
    periods: list[tuple[dt.datetime, dt.datetime]],
    status: str = "approved",
    **overrides: Any,
) -> RoadOccupancy:
    """An occupancy as the service would store it (no checks run)."""
    shape = geo.to_shape(footprint)
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "zone_id": zone.id,
        "venue_revision": zone.version or 1,
        "vendor_id": vendor.id,
        "activity_code": "shoe_repair",
        "footprint": footprint,
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "area_m2": geo.area_m2(shape),
        "span": Range(min(p[0] for p in periods), max(p[1] for p in periods), bounds="[)"),
        "checks": [],
        "rules_version": "2026.1",
        "status": status,
        "fee_cny": 0,
        "fee_exemption_basis": FEE_EXEMPTION_BASIS,
        "application_id": uuid.uuid4() if status == "pending_permit" else None,
        "withdrawn_at": at(15, 9) if status == "withdrawn" else None,
    }
    fields.update(overrides)
    occupancy = RoadOccupancy(**fields)
    session.add(occupancy)
    await session.flush()
    session.add_all(
        RoadOccupancyPeriod(occupancy_id=occupancy.id, position=i, during=Range(start, end, bounds="[)"))
        for i, (start, end) in enumerate(periods)
    )
    await session.flush()
    return occupancy


async def make_allocated_pitch(
    session: AsyncSession,
    *,
    zone: Venue,
    vendor: Vendor,
    created_by: Account,
    geometry: dict[str, Any],
    term: tuple[dt.date, dt.date],
    status: str = "held",
) -> Pitch:
    """A pitch of the zone allocated to `vendor` for `term` by a drawn round (rows inserted directly)."""
    pitch = await make_pitch(session, venue=zone, created_by=created_by, geometry=geometry)
    seed = uuid.uuid4().bytes * 2
    round_ = AllocationRound(
        id=uuid.uuid4(),
        jurisdiction_code=zone.jurisdiction_code,
        name="东华门大街夜市 2026 年第三季度",
        term_start=term[0],
        term_end=term[1],
        applications_close_at=at(1, 9),
        priority_tiers=[],
        seed=seed,
        seed_commitment=hashlib.sha256(seed).hexdigest(),
        created_by=created_by.id,
    )
    session.add(round_)
    holder = await session.get(Holder, vendor.id)
    if holder is None:
        holder = Holder(vendor_id=vendor.id)
        session.add(holder)
    await session.flush()
    application = RoundApplication(
        id=uuid.uuid4(),
        round_id=round_.id,
        vendor_id=vendor.id,
        applicant_ref=uuid.uuid4().hex,
        choices=[pitch.id],
        submitted_at=at(1, 8),
    )
    session.add(application)
    await session.flush()
    session.add(
        Allocation(
            round_id=round_.id,
            application_id=application.id,
            pitch_id=pitch.id,
            pitch_no=pitch.pitch_no,
            vendor_id=vendor.id,
            holder_no=holder.holder_no,
            term_start=term[0],
            term_end=term[1],
            choice_rank=1,
            source="draw",
            status=status,
            released_at=at(2, 9) if status == "released" else None,
        )
    )
    await session.flush()
    return pitch
