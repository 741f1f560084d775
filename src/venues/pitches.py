"""Pitches: the marked places for one stall inside a venue, checked against the siting rules when drawn.

Who: the venue's street office (another jurisdiction's venue or pitch is a 404), admins; everyone may read.

A pitch is drawn only if every check passes (`siting.check_pitch`: inside the venue, no overlap with the
venue's other open or suspended pitches — a suspended pitch comes back —, clear of every restricted
feature's buffer for the categories the venue allows, the stall-area cap, and on road zones the walkway
left clear beside every approved or pending occupancy); otherwise 422 `pitch_rejected` with every check.
The pitch keeps the checks, the rules' version and the venue revision it was checked against.

Overlap is decided by geometry, which no constraint can express without PostGIS: every write that checks a
venue's pitches first locks the venue row (`SELECT … FOR UPDATE`), so of two overlapping pitches drawn at
the same moment the second is checked against the first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any, Final, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.db import flush_or_raise
from core.errors import InvalidInput
from core.geojson import CoordinateSystem, Geometry
from core.pagination import Page, keyset_page
from venues import features, geo, siting
from venues.access import managed_by
from venues.errors import PitchLabelTaken, PitchNotFound, PitchRejected, VenueNotFound, VenueNotOpen
from venues.models import HOLDING_OCCUPANCY_STATUSES, Pitch, PitchRevision, PlaceStatus, RoadOccupancy, Venue
from venues.siting import Check, VenueKind
from venues.venues import area_shape, current_status, footprint_columns, get_managed_venue, get_venue, status_errors

# Pitches that hold their ground against a new one: a suspended pitch comes back, a closed one does not.
STANDING: Final = ("open", "suspended")
_LABEL_TAKEN: Final = "uq_venues_pitch_venue_id_label"


def _rules_for(venue: Venue) -> siting.SitingRules:
    """The siting rules, with the venue's own walkway clearance where it asks for more than the rules."""
    rules = siting.load_siting_rules()
    if venue.min_clearance_m is not None and venue.min_clearance_m > rules.min_walkway_m:
        return dataclasses.replace(rules, min_walkway_m=venue.min_clearance_m)
    return rules


async def check_in_venue(
    session: AsyncSession, venue: Venue, area: geo.Shape, *, excluding: uuid.UUID | None = None
) -> list[Check]:
    """Every siting check of `area` in `venue` against what stands there now (the caller holds the venue lock)."""
    others_query = select(Pitch.label, Pitch.geometry).where(Pitch.venue_id == venue.id, Pitch.status.in_(STANDING))
    if excluding is not None:
        others_query = others_query.where(Pitch.id != excluding)
    others = [
        siting.Footprint(ref=f"pitch {label}", shape=geo.to_shape(geometry))
        for label, geometry in await session.execute(others_query.order_by(Pitch.label))
    ]
    if venue.kind == "road_zone":
        occupancies = await session.execute(
            select(RoadOccupancy.id, RoadOccupancy.footprint)
            .where(RoadOccupancy.zone_id == venue.id, RoadOccupancy.status.in_(HOLDING_OCCUPANCY_STATUSES))
            .order_by(RoadOccupancy.id)
        )
        others += [
            siting.Footprint(ref=f"occupancy {occupancy_id}", shape=geo.to_shape(footprint))
            for occupancy_id, footprint in occupancies
        ]
    bounds = (venue.min_lon, venue.min_lat, venue.max_lon, venue.max_lat)
    nearby = await features.features_near(session, bounds, venue.allowed_categories)
    return siting.check_pitch(
        area,
        venue=siting.Site(kind=cast(VenueKind, venue.kind), shape=geo.to_shape(venue.geometry)),
        others=others,
        features=[features.as_siting_feature(feature) for feature in nearby],
        categories=cast(list[Any], venue.allowed_categories),
        rules=_rules_for(venue),
    )


def _refuse_unless_passed(checks: list[Check]) -> None:
    failed = [check.check for check in checks if not check.passed]
    if failed:
        raise PitchRejected(
            "The pitch fails " + ", ".join(dict.fromkeys(failed)),
            checks=[msgspec.to_builtins(check) for check in checks],
        )


def snapshot(pitch: Pitch) -> dict[str, Any]:
    """The pitch's business fields as JSON: what a revision keeps."""
    fields = ("label", "geometry", "area_m2", "status", "status_reason", "status_from", "status_until")
    values: dict[str, Any] = msgspec.to_builtins({name: getattr(pitch, name) for name in fields})
    values["rules_version"] = pitch.rules_version
    return values


async def _record_revision(
    session: AsyncSession, pitch: Pitch, *, change: str, reason: str | None, actor: uuid.UUID
) -> None:
    session.add(
        PitchRevision(
            pitch_id=pitch.id,
            revision=pitch.version,
            venue_revision=pitch.venue_revision,
            snapshot=snapshot(pitch),
            change=change,
            reason=reason,
            changed_by=actor,
        )
    )
    await flush_or_raise(session, {_LABEL_TAKEN: PitchLabelTaken})


async def mark_pitch(
    session: AsyncSession,
    principal: Principal,
    venue_id: uuid.UUID,
    *,
    label: str,
    geometry: Geometry,
    coordinate_system: CoordinateSystem = "wgs84",
    now: dt.datetime,
) -> Pitch:
    """Draw a pitch in a venue the caller manages, if it passes every siting check (422 with them all if not).

    A closed venue takes no new pitches (409 `venue_not_open`); a suspended one does (it reopens).
    """
    require_role(principal, "street_office", "admin")
    venue = await get_managed_venue(session, principal, venue_id, lock=True)
    # The standing at `now`, not the stored status: a closure announced for a later day does not block yet.
    if current_status(venue.status, venue.status_from, venue.status_until, now) == "closed":
        raise VenueNotOpen("A closed venue takes no new pitches")
    area = area_shape(geometry, coordinate_system=coordinate_system)
    label = label.strip()
    if not label:
        raise InvalidInput.for_field("label", "must not be blank")
    taken = await session.scalar(select(Pitch.id).where(Pitch.venue_id == venue.id, Pitch.label == label))
    if taken is not None:
        raise PitchLabelTaken(f"The venue already has a pitch labelled {label}")
    checks = await check_in_venue(session, venue, area)
    _refuse_unless_passed(checks)
    pitch = Pitch(
        id=uuid.uuid4(),
        venue_id=venue.id,
        venue_revision=venue.version,
        label=label,
        checks=[msgspec.to_builtins(check) for check in checks],
        rules_version=siting.load_siting_rules().version,
        status="open",
        version=1,
        created_by=principal.account_id,
        created_at=now,
        updated_at=now,
        **footprint_columns(area),
    )
    session.add(pitch)
    await flush_or_raise(session, {_LABEL_TAKEN: PitchLabelTaken})
    await _record_revision(session, pitch, change="marked", reason=None, actor=principal.account_id)
    return pitch


async def get_pitch(session: AsyncSession, pitch_id: uuid.UUID) -> Pitch:
    """One pitch (public)."""
    pitch = await session.get(Pitch, pitch_id)
    if pitch is None:
        raise PitchNotFound()
    return pitch


async def list_pitches(
    session: AsyncSession, venue_id: uuid.UUID, *, limit: int, cursor: str | None = None
) -> Page[Pitch]:
    """A venue's pitches in the order they were drawn (public; 404 for no such venue)."""
    await get_venue(session, venue_id)
    return await keyset_page(
        session,
        select(Pitch).where(Pitch.venue_id == venue_id),
        (Pitch.pitch_no,),
        limit=limit,
        cursor=cursor,
        key=lambda pitch: (pitch.pitch_no,),
    )


async def _managed_pitch(session: AsyncSession, principal: Principal, pitch_id: uuid.UUID) -> tuple[Pitch, Venue]:
    """The pitch and its venue, the venue locked, if the caller manages it (404 otherwise, before If-Match)."""
    venue_id = await session.scalar(
        select(Pitch.venue_id)
        .join(Venue, Venue.id == Pitch.venue_id)
        .where(Pitch.id == pitch_id, managed_by(principal, Venue.jurisdiction_code))
    )
    if venue_id is None:
        raise PitchNotFound()
    try:
        venue = await get_managed_venue(session, principal, venue_id, lock=True)
    except VenueNotFound:
        raise PitchNotFound() from None
    # Read again under the venue's lock: the version If-Match names must be the one we change.
    pitch = await session.scalar(select(Pitch).where(Pitch.id == pitch_id).execution_options(populate_existing=True))
    if pitch is None:
        raise PitchNotFound()
    return pitch, venue


async def amend_pitch(
    session: AsyncSession,
    principal: Principal,
    pitch_id: uuid.UUID,
    *,
    label: str | None,
    geometry: Geometry | None,
    coordinate_system: CoordinateSystem = "wgs84",
    reason: str | None,
    precondition: Precondition,
    now: dt.datetime,
) -> Pitch:
    """Relabel or redraw a pitch; a new shape is checked again against the venue as it stands now.

    When nothing would change (no field, or each as it stands), the pitch is answered as it is: no new
    version, no revision."""
    pitch, venue = await _managed_pitch(session, principal, pitch_id)
    precondition.check(pitch.version, what="pitch")
    changed = False
    if label is not None:
        label = label.strip()
        if not label:
            raise InvalidInput.for_field("label", "must not be blank")
        if label != pitch.label:
            taken = await session.scalar(select(Pitch.id).where(Pitch.venue_id == venue.id, Pitch.label == label))
            if taken is not None:
                raise PitchLabelTaken(f"The venue already has a pitch labelled {label}")
            pitch.label = label
            changed = True
    if geometry is not None:
        area = area_shape(geometry, coordinate_system=coordinate_system)
        columns = footprint_columns(area)
        if any(getattr(pitch, column) != value for column, value in columns.items()):
            checks = await check_in_venue(session, venue, area, excluding=pitch.id)
            _refuse_unless_passed(checks)
            for column, value in columns.items():
                setattr(pitch, column, value)
            pitch.checks = [msgspec.to_builtins(check) for check in checks]
            pitch.rules_version = siting.load_siting_rules().version
            pitch.venue_revision = venue.version
            changed = True
    if not changed:
        return pitch
    pitch.version += 1
    pitch.updated_at = now
    await _record_revision(session, pitch, change="amended", reason=reason, actor=principal.account_id)
    return pitch


async def change_pitch_status(
    session: AsyncSession,
    principal: Principal,
    pitch_id: uuid.UUID,
    *,
    status: PlaceStatus,
    reason: str | None,
    status_from: dt.datetime | None,
    until: dt.datetime | None,
    precondition: Precondition,
    now: dt.datetime,
) -> Pitch:
    """Open, suspend or close a pitch, saying why. Reopening a closed pitch checks it again (others may have
    been drawn over it meanwhile), and a closed venue reopens none (409)."""
    pitch, venue = await _managed_pitch(session, principal, pitch_id)
    precondition.check(pitch.version, what="pitch")
    errors = status_errors(status, reason, status_from, until, now=now)
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    if status == "open" and pitch.status == "closed":
        if venue.status == "closed":
            raise VenueNotOpen("A closed venue reopens no pitches")
        checks = await check_in_venue(session, venue, geo.to_shape(pitch.geometry), excluding=pitch.id)
        _refuse_unless_passed(checks)
        pitch.checks = [msgspec.to_builtins(check) for check in checks]
        pitch.rules_version = siting.load_siting_rules().version
        pitch.venue_revision = venue.version
    pitch.status = status
    pitch.status_reason = reason.strip() if reason and status != "open" else None
    pitch.status_from = (status_from or now) if status != "open" else None
    pitch.status_until = until if status == "suspended" else None
    pitch.version += 1
    pitch.updated_at = now
    await _record_revision(session, pitch, change=f"status {status}", reason=reason, actor=principal.account_id)
    return pitch
