"""Allocation rounds: free pitches handed out by the published draw (docs/draw.md), with key-group priority.

A street office opens a round over pitches of its jurisdiction, publishing the commitment to a secret seed
(and, optionally, a beacon: a public value that will exist only after the close). Vendors apply once, with up
to five ranked choices, and get a random per-round `applicant_ref`. After the close the office draws
(`venues.round_results`). Races the database decides here: a pitch in two rounds with overlapping terms
(`ex_venues_round_pitch_term`) and one application per vendor per round (a unique constraint); applications
hold the round row FOR SHARE, so a draw (FOR UPDATE) waits for those in flight at the close.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ARRAY, Select, any_, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import Range
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.auth import Principal, require_role
from core.db import flush_or_raise
from core.errors import FieldError, InvalidInput
from core.pagination import Page, keyset_page
from registry import catalogue
from registry.policies import KEY_GROUPS
from venues import allocations, draw, geo
from venues.access import managed_by
from venues.errors import (
    AlreadyApplied,
    AlreadyHoldsPitch,
    ApplicationsClosed,
    PitchInAnotherRound,
    PitchNotOpen,
    PitchOccupied,
    RoundNotFound,
    VenueNotOpen,
)
from venues.models import (
    HOLDING_OCCUPANCY_STATUSES,
    Allocation,
    AllocationRound,
    Pitch,
    RoadOccupancy,
    RoadOccupancyPeriod,
    RoundApplication,
    RoundPitch,
    RoundStatus,
    Venue,
)
from venues.venues import current_status

MAX_ROUND_PITCHES: Final = 5000
# A free pitch rotates (DOMAIN §8.1: monthly to quarterly terms); a year is the longest term a round hands out.
MAX_TERM_DAYS: Final = 366
MAX_CHOICES: Final = draw.MAX_CHOICES
# How far ahead a round may close, and how long after the close its beacon may appear: a draw nobody can run
# for years helps no vendor (and keeps instants far from the calendar's ends).
MAX_CLOSE_AHEAD: Final = dt.timedelta(days=366)
MAX_BEACON_DELAY: Final = dt.timedelta(days=31)
# 128 random bits: unguessable and unlinkable across rounds (a fresh value per application, DOMAIN §7.3).
APPLICANT_REF_BYTES: Final = 16
DEFAULT_PRIORITY_TIERS: Final[list[list[str]]] = [list(KEY_GROUPS)]
# Fewest key groups in one tier: a tier is public, so a tier of one group would name the group of its applicants.
MIN_TIER_GROUPS: Final = 2
_LISTED: Final = 10  # ids named in one refusal at most

_ONE_APPLICATION: Final = "uq_venues_round_application_round_id_vendor_id"
_PITCH_IN_ROUND: Final = "ex_venues_round_pitch_term"


class Beacon(msgspec.Struct, frozen=True, kw_only=True):
    """A public value that will exist only after the close (a stated lottery result); the draw mixes it in."""

    description: str
    available_after: dt.datetime


class RoundView(msgspec.Struct, frozen=True, kw_only=True):
    """A round as the public sees it: never the seed before the draw, never who applied."""

    id: uuid.UUID
    name: str
    jurisdiction_code: str
    status: RoundStatus
    term_start: dt.date
    term_end: dt.date
    applications_close_at: dt.datetime
    priority_tiers: list[list[str]]
    seed_commitment: str
    beacon: Beacon | None
    beacon_value: str | None
    pitch_count: int
    application_count: int
    applications_digest: str | None
    drawn_at: dt.datetime | None
    created_at: dt.datetime
    pitch_ids: list[uuid.UUID] | None = None


def round_status(round_: AllocationRound, now: dt.datetime) -> RoundStatus:
    """Drawn once drawn; closed from `applications_close_at` on (time decides, nothing needs to run); else open."""
    if round_.drawn_at is not None:
        return "drawn"
    return "closed" if now >= round_.applications_close_at else "open"


def _listed(ids: Sequence[Any]) -> str:
    shown = ", ".join(str(item) for item in ids[:_LISTED])
    return shown + (f" and {len(ids) - _LISTED} more" if len(ids) > _LISTED else "")


def _duplicates(items: Sequence[Any]) -> list[Any]:
    seen: set[Any] = set()
    repeated: list[Any] = []
    for item in items:
        if item in seen and item not in repeated:
            repeated.append(item)
        seen.add(item)
    return repeated


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def uuid_array(name: str, values: Sequence[uuid.UUID]) -> Any:
    return bindparam(name, value=list(values), type_=ARRAY(Uuid()))


# --- opening --------------------------------------------------------------------------------------------------


def _utc(instant: dt.datetime) -> dt.datetime | None:
    """The instant in UTC, or None at the calendar's ends (year 1 at +14:00 has no UTC year)."""
    try:
        return instant.astimezone(dt.UTC)
    except OverflowError:
        return None


def check_round_terms(
    *,
    pitch_ids: Sequence[uuid.UUID],
    term_start: dt.date,
    term_end: dt.date,
    applications_close_at: dt.datetime,
    priority_tiers: Sequence[Sequence[str]],
    beacon: Beacon | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> None:
    """The rules of a round's terms that need no database, all reported at once (422 naming each field)."""
    errors: list[FieldError] = []
    repeated = _duplicates(pitch_ids)
    if repeated:
        errors.append(FieldError("pitch_ids", f"names a pitch more than once: {_listed(repeated)}"))
    if term_end < term_start:
        errors.append(FieldError("term_end", "must be on or after term_start"))
    elif (term_end - term_start).days + 1 > MAX_TERM_DAYS:
        errors.append(FieldError("term_end", f"a term lasts at most {MAX_TERM_DAYS} days"))
    close = _utc(applications_close_at)
    in_range = close is not None and now < close <= now + MAX_CLOSE_AHEAD
    if close is None or close <= now:
        errors.append(FieldError("applications_close_at", "must be in the future"))
    elif close > now + MAX_CLOSE_AHEAD:
        errors.append(FieldError("applications_close_at", f"must be at most {MAX_CLOSE_AHEAD.days} days ahead"))
    # Applications close before the term begins: a pitch drawn after its term started would be idle until then.
    elif close > dt.datetime.combine(term_start, dt.time(0, 0), tzinfo=zone):
        errors.append(FieldError("applications_close_at", "must be no later than the start of term_start"))
    if beacon is not None and close is not None and in_range:
        available = _utc(beacon.available_after)
        if available is None or available < close:
            errors.append(FieldError("beacon.available_after", "must be at or after applications_close_at"))
        elif available > close + MAX_BEACON_DELAY:
            errors.append(
                FieldError("beacon.available_after", f"must be at most {MAX_BEACON_DELAY.days} days after the close")
            )
    named = [group for tier in priority_tiers for group in tier]
    unknown = sorted({group for group in named if group not in KEY_GROUPS})
    if unknown:
        errors.append(FieldError("priority_tiers", f"unknown key groups: {', '.join(unknown)}"))
    twice = _duplicates(named)
    if twice:
        errors.append(FieldError("priority_tiers", f"names a key group in more than one place: {', '.join(twice)}"))
    # The tiers and every applicant_ref's tier are public: a tier of one group would publish that its applicants
    # belong to that group (DOMAIN §7.3), so a tier names at least two groups.
    small = [number for number, tier in enumerate(priority_tiers, start=1) if len(tier) < MIN_TIER_GROUPS]
    if small:
        errors.append(
            FieldError(
                "priority_tiers",
                f"each tier names at least {MIN_TIER_GROUPS} key groups, since tiers and each applicant's tier are "
                f"public and a tier of one group would reveal its applicants' group; tier(s) "
                f"{', '.join(map(str, small))} name fewer",
            )
        )
    _refuse(errors)


async def open_round(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    pitch_ids: Sequence[uuid.UUID],
    term_start: dt.date,
    term_end: dt.date,
    applications_close_at: dt.datetime,
    priority_tiers: Sequence[Sequence[str]] | None,
    beacon: Beacon | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> RoundView:
    """Open a round over open pitches of one jurisdiction the caller manages, committing to a secret seed.

    Street offices (their own jurisdiction's pitches) and admins. A pitch that does not exist and one of another
    jurisdiction get the same refusal (422 naming `pitch_ids`), so neither is revealed. A pitch already offered
    in a round whose term overlaps is a 409 `pitch_in_another_round`, decided by the database.
    """
    require_role(principal, "street_office", "admin")
    tiers = [list(tier) for tier in (DEFAULT_PRIORITY_TIERS if priority_tiers is None else priority_tiers)]
    check_round_terms(
        pitch_ids=pitch_ids,
        term_start=term_start,
        term_end=term_end,
        applications_close_at=applications_close_at,
        priority_tiers=tiers,
        beacon=beacon,
        now=now,
        zone=zone,
    )
    rows = (
        await session.execute(
            select(Pitch.id, Pitch.pitch_no, Pitch.venue_id, Venue.kind, Venue.jurisdiction_code, *STANDING)
            .join(Venue, Venue.id == Pitch.venue_id)
            .where(Pitch.id == any_(uuid_array("pitch_ids", pitch_ids)), managed_by(principal, Venue.jurisdiction_code))
        )
    ).all()
    found = {row.id: row for row in rows}
    missing = [pitch_id for pitch_id in pitch_ids if pitch_id not in found]
    if missing:
        raise InvalidInput.for_field("pitch_ids", f"no such pitch in your jurisdiction: {_listed(missing)}")
    if len({row.jurisdiction_code for row in rows}) > 1:
        raise InvalidInput.for_field("pitch_ids", "the pitches of a round lie in one jurisdiction")
    closed_venues = [pitch_id for pitch_id in pitch_ids if not venue_open(found[pitch_id], now)]
    if closed_venues:
        raise VenueNotOpen(f"The venue of these pitches is closed or suspended: {_listed(closed_venues)}")
    closed = [pitch_id for pitch_id in pitch_ids if not pitch_open(found[pitch_id], now)]
    if closed:
        raise PitchNotOpen(f"These pitches are closed or suspended: {_listed(closed)}")

    on_roads = [pitch_id for pitch_id in pitch_ids if found[pitch_id].kind == "road_zone"]
    if on_roads:
        # A road zone's occupancies and its pitches held for a term exclude each other: lock the zones (as a road
        # request does), so an occupancy approved at this moment and this round are decided one after the other.
        await allocations.lock_road_zones_of(session, on_roads)
        occupied = await _occupied(session, on_roads, term_start=term_start, term_end=term_end, zone=zone)
        if occupied:
            raise PitchOccupied(
                "A road occupancy, approved or awaiting its permit, holds part of these pitches during the term: "
                f"{_listed(occupied)}"
            )

    seed = secrets.token_bytes(32)
    round_ = AllocationRound(
        id=uuid.uuid4(),
        jurisdiction_code=rows[0].jurisdiction_code,
        name=name,
        term_start=term_start,
        term_end=term_end,
        applications_close_at=applications_close_at,
        priority_tiers=tiers,
        seed=seed,
        seed_commitment=draw.commitment(seed),
        beacon_description=beacon.description if beacon else None,
        beacon_available_after=beacon.available_after if beacon else None,
        created_by=principal.account_id,
        created_at=now,
    )
    session.add(round_)
    await session.flush()
    session.add_all(
        RoundPitch(
            round_id=round_.id,
            pitch_id=pitch_id,
            pitch_no=found[pitch_id].pitch_no,
            term_start=term_start,
            term_end=term_end,
            position=position,
        )
        for position, pitch_id in enumerate(pitch_ids, start=1)
    )
    await flush_or_raise(session, {_PITCH_IN_ROUND: _pitch_in_another_round})
    return _view(round_, now, pitch_count=len(pitch_ids), application_count=0, pitch_ids=list(pitch_ids))


async def _occupied(
    session: AsyncSession, pitch_ids: Sequence[uuid.UUID], *, term_start: dt.date, term_end: dt.date, zone: ZoneInfo
) -> list[uuid.UUID]:
    """The road-zone pitches (of `pitch_ids`, in that order) whose area an approved or pending occupancy of their
    zone reaches into during the term's days (in the city's calendar, all day long), as siting judges overlap."""
    term = Range(
        dt.datetime.combine(term_start, dt.time(0, 0), tzinfo=zone),
        dt.datetime.combine(term_end + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone),
        bounds="[)",
    )
    meets_term = exists().where(
        RoadOccupancyPeriod.occupancy_id == RoadOccupancy.id, RoadOccupancyPeriod.during.op("&&")(term)
    )
    rows = await session.execute(
        select(Pitch.id, Pitch.geometry, RoadOccupancy.footprint)
        .join(RoadOccupancy, RoadOccupancy.zone_id == Pitch.venue_id)
        .where(
            Pitch.id == any_(uuid_array("road_pitch_ids", pitch_ids)),
            RoadOccupancy.status.in_(HOLDING_OCCUPANCY_STATUSES),
            RoadOccupancy.span.op("&&")(term),
            meets_term,
        )
    )
    hit: set[uuid.UUID] = set()
    for pitch_id, geometry, footprint in rows:
        if pitch_id in hit:
            continue
        area = geo.to_shape(geometry)
        projection = geo.projection_of(area)
        if geo.interiors_meet(projection.to_metres(area), projection.to_metres(geo.to_shape(footprint))):
            hit.add(pitch_id)
    return [pitch_id for pitch_id in pitch_ids if pitch_id in hit]


# A pitch's and its venue's status columns, for `current_status`: a suspension or closure counts from its `from`
# (and a suspension until its `until`), not from when it was recorded.
# The columns that say whether a pitch and its venue are open (`venue_open`, `pitch_open`).
STANDING: Final = (
    Pitch.status,
    Pitch.status_from,
    Pitch.status_until,
    Venue.status.label("venue_status"),
    Venue.status_from.label("venue_status_from"),
    Venue.status_until.label("venue_status_until"),
)


def venue_open(row: Any, now: dt.datetime) -> bool:
    """Whether the venue of a row selected with STANDING is open at `now`."""
    return current_status(row.venue_status, row.venue_status_from, row.venue_status_until, now) == "open"


def pitch_open(row: Any, now: dt.datetime) -> bool:
    """Whether the pitch of a row selected with STANDING is open at `now`."""
    return current_status(row.status, row.status_from, row.status_until, now) == "open"


def _pitch_in_another_round() -> PitchInAnotherRound:
    return PitchInAnotherRound("A pitch of this round is offered in another round whose term overlaps this one")


def _view(
    round_: AllocationRound,
    now: dt.datetime,
    *,
    pitch_count: int,
    application_count: int,
    pitch_ids: list[uuid.UUID] | None = None,
) -> RoundView:
    beacon = None
    if round_.beacon_description is not None and round_.beacon_available_after is not None:
        beacon = Beacon(description=round_.beacon_description, available_after=round_.beacon_available_after)
    return RoundView(
        id=round_.id,
        name=round_.name,
        jurisdiction_code=round_.jurisdiction_code,
        status=round_status(round_, now),
        term_start=round_.term_start,
        term_end=round_.term_end,
        applications_close_at=round_.applications_close_at,
        priority_tiers=round_.priority_tiers,
        seed_commitment=round_.seed_commitment,
        beacon=beacon,
        beacon_value=round_.beacon_value,
        pitch_count=pitch_count,
        application_count=application_count,
        applications_digest=round_.applications_digest,
        drawn_at=round_.drawn_at,
        created_at=round_.created_at,
        pitch_ids=pitch_ids,
    )


# --- reading --------------------------------------------------------------------------------------------------


def _counted() -> Select[Any]:
    pitches = (
        select(func.count()).where(RoundPitch.round_id == AllocationRound.id).correlate(AllocationRound)
    ).scalar_subquery()
    applications = (
        select(func.count()).where(RoundApplication.round_id == AllocationRound.id).correlate(AllocationRound)
    ).scalar_subquery()
    return select(AllocationRound, pitches.label("pitch_count"), applications.label("application_count"))


async def get_round(session: AsyncSession, round_id: uuid.UUID, *, now: dt.datetime) -> RoundView:
    """One round, public: its terms, status, commitment and pitches (the seed only in the results, once drawn)."""
    row = (await session.execute(_counted().where(AllocationRound.id == round_id))).first()
    if row is None:
        raise RoundNotFound()
    pitch_ids = list(
        await session.scalars(
            select(RoundPitch.pitch_id).where(RoundPitch.round_id == round_id).order_by(RoundPitch.position)
        )
    )
    return _view(
        row.AllocationRound,
        now,
        pitch_count=row.pitch_count,
        application_count=row.application_count,
        pitch_ids=pitch_ids,
    )


async def list_rounds(
    session: AsyncSession,
    *,
    now: dt.datetime,
    limit: int,
    cursor: str | None = None,
    jurisdiction_code: str | None = None,
    status: RoundStatus | None = None,
) -> Page[RoundView]:
    """Rounds, public, in the order they were opened; by jurisdiction and by status (derived from the time)."""
    query = _counted()
    if jurisdiction_code is not None:
        query = query.where(AllocationRound.jurisdiction_code == jurisdiction_code)
    if status == "drawn":
        query = query.where(AllocationRound.drawn_at.is_not(None))
    elif status == "closed":
        query = query.where(AllocationRound.drawn_at.is_(None), AllocationRound.applications_close_at <= now)
    elif status == "open":
        query = query.where(AllocationRound.drawn_at.is_(None), AllocationRound.applications_close_at > now)
    return await keyset_page(
        session,
        query,
        (AllocationRound.created_at, AllocationRound.id),
        limit=limit,
        cursor=cursor,
        convert=lambda row: _view(
            row.AllocationRound, now, pitch_count=row.pitch_count, application_count=row.application_count
        ),
        key=lambda view: (view.created_at, view.id),
    )


# --- applying -------------------------------------------------------------------------------------------------


def _terms_overlap(start: dt.date, end: dt.date) -> Any:
    return (Allocation.term_start <= end) & (Allocation.term_end >= start)


async def apply_to_round(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    *,
    choices: Sequence[uuid.UUID],
    activity_code: str | None,
    now: dt.datetime,
) -> RoundApplication:
    """A vendor's one application to a round: 1 to 5 ranked pitches of the round, under a fresh applicant_ref.

    The round row is held FOR SHARE while the close is checked and the application inserted, so a draw (which
    locks it FOR UPDATE) waits for every application accepted before the close. Twice is a 409
    `already_applied`, decided by the unique constraint on (round, vendor) also under concurrency.
    """
    require_role(principal, "vendor")
    if principal.vendor_id is None:
        raise RoundNotFound()
    round_ = (
        await session.execute(select(AllocationRound).where(AllocationRound.id == round_id).with_for_update(read=True))
    ).scalar_one_or_none()
    if round_ is None:
        raise RoundNotFound()
    if round_.drawn_at is not None or now >= round_.applications_close_at:
        raise ApplicationsClosed(f"Applications closed at {round_.applications_close_at.isoformat()}")
    repeated = _duplicates(choices)
    if repeated:
        raise InvalidInput.for_field("choices", f"names a pitch more than once: {_listed(repeated)}")
    # The chosen pitches' venues FOR SHARE (in id order), before their status is read: a status change of a venue
    # or of one of its pitches locks the venue FOR UPDATE, so it either committed before this read or waits for
    # this application to commit; an application never slips in past a closure it did not see.
    await session.execute(
        select(Venue.id)
        .where(
            Venue.id.in_(
                select(Pitch.venue_id)
                .join(RoundPitch, RoundPitch.pitch_id == Pitch.id)
                .where(RoundPitch.round_id == round_id, Pitch.id == any_(uuid_array("chosen", choices)))
            )
        )
        .order_by(Venue.id)
        .with_for_update(read=True)
    )
    rows = (
        await session.execute(
            select(RoundPitch.pitch_id, Venue.allowed_categories, *STANDING)
            .join(Pitch, Pitch.id == RoundPitch.pitch_id)
            .join(Venue, Venue.id == Pitch.venue_id)
            .where(RoundPitch.round_id == round_id, RoundPitch.pitch_id == any_(uuid_array("choices", choices)))
        )
    ).all()
    found = {row.pitch_id: row for row in rows}
    outside = [choice for choice in choices if choice not in found]
    if outside:
        raise InvalidInput.for_field("choices", f"not pitches of this round: {_listed(outside)}")
    if activity_code is not None:
        activity = catalogue.load_catalogue().find_activity(activity_code)
        if activity is None:
            raise InvalidInput.for_field("activity_code", "is not an activity of the catalogue (GET /activities)")
        refusing = [choice for choice in choices if activity.category not in found[choice].allowed_categories]
        if refusing:
            raise InvalidInput.for_field(
                "activity_code",
                f"{activity.category} is not allowed at the venue of these chosen pitches: {_listed(refusing)}",
            )
    closed_venues = [choice for choice in choices if not venue_open(found[choice], now)]
    if closed_venues:
        raise VenueNotOpen(f"The venue of these chosen pitches takes no applications now: {_listed(closed_venues)}")
    closed = [choice for choice in choices if not pitch_open(found[choice], now)]
    if closed:
        raise PitchNotOpen(f"These chosen pitches are closed or suspended: {_listed(closed)}")
    holding = await session.scalar(
        select(Allocation.id).where(
            Allocation.vendor_id == principal.vendor_id,
            Allocation.status == "held",
            _terms_overlap(round_.term_start, round_.term_end),
        )
    )
    if holding is not None:
        raise AlreadyHoldsPitch("You hold a pitch for a term overlapping this round's (one pitch per vendor per term)")
    application = RoundApplication(
        id=uuid.uuid4(),
        round_id=round_id,
        vendor_id=principal.vendor_id,
        applicant_ref=secrets.token_hex(APPLICANT_REF_BYTES),
        choices=list(choices),
        activity_code=activity_code,
        submitted_at=now,
    )
    session.add(application)
    await flush_or_raise(session, {_ONE_APPLICATION: AlreadyApplied})
    return application


__all__ = [
    "MAX_CHOICES",
    "MAX_ROUND_PITCHES",
    "STANDING",
    "Beacon",
    "RoundView",
    "apply_to_round",
    "get_round",
    "list_rounds",
    "open_round",
    "pitch_open",
    "round_status",
    "uuid_array",
    "venue_open",
]
