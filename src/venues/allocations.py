"""Allocations: the pitches vendors hold for a term, from a draw or passed down a round's waiting list.

A holder may release their pitch (no If-Match: a holder's own act, API.md); the pitch then goes to the first on
the round's waiting list who chose it and holds no pitch for an overlapping term. Releases of one round are
serialised by locking the round row, so two releases never hand the same waiting applicant two pitches, and
two releases of one allocation have one winner (the other 409 `allocation_released`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import ARRAY, any_, bindparam, exists, literal, select, text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from core.auth import Principal, require_role
from core.db import constraint_name
from core.pagination import Page, keyset_page
from venues.errors import AllocationNotFound, AllocationReleased
from venues.models import (
    Allocation,
    AllocationRound,
    AllocationSource,
    AllocationStatus,
    Holder,
    Pitch,
    PlaceStatus,
    RoundApplication,
    Venue,
)
from venues.venues import current_status

_HOLDER_ALLOCATED: Final = "ex_venues_allocation_holder_term"
# Waiting applicants tried in turn when the first ones came to hold a pitch elsewhere at this very moment.
_CANDIDATES: Final = 20


class PitchStanding(msgspec.Struct, frozen=True, kw_only=True):
    """The pitch and its venue as they stand now: a holder sees a suspension or closure and its reason."""

    pitch_id: uuid.UUID
    label: str
    venue_id: uuid.UUID
    venue_name: str
    status: PlaceStatus
    status_reason: str | None
    status_from: dt.datetime | None
    status_until: dt.datetime | None
    venue_status: PlaceStatus
    venue_status_reason: str | None
    venue_status_from: dt.datetime | None
    venue_status_until: dt.datetime | None


class AllocationView(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    round_id: uuid.UUID
    vendor_id: uuid.UUID
    pitch: PitchStanding
    term_start: dt.date
    term_end: dt.date
    choice_rank: int
    source: AllocationSource
    status: AllocationStatus
    created_at: dt.datetime
    released_at: dt.datetime | None
    replaces_id: uuid.UUID | None


class Released(msgspec.Struct, frozen=True, kw_only=True):
    """A release: the allocation given up, and the applicant_ref of whom the pitch went to (if anyone)."""

    allocation: AllocationView
    passed_to_applicant_ref: str | None
    passed_to_allocation_id: uuid.UUID | None


def _select() -> Any:
    query = (
        select(Allocation, Pitch, Venue)
        .join(Pitch, Pitch.id == Allocation.pitch_id)
        .join(Venue, Venue.id == Pitch.venue_id)
        .join(AllocationRound, AllocationRound.id == Allocation.round_id)
    )
    return query


def _view(allocation: Allocation, pitch: Pitch, venue: Venue) -> AllocationView:
    return AllocationView(
        id=allocation.id,
        round_id=allocation.round_id,
        vendor_id=allocation.vendor_id,
        pitch=PitchStanding(
            pitch_id=pitch.id,
            label=pitch.label,
            venue_id=venue.id,
            venue_name=venue.name,
            status=pitch.status,  # type: ignore[arg-type]
            status_reason=pitch.status_reason,
            status_from=pitch.status_from,
            status_until=pitch.status_until,
            venue_status=venue.status,  # type: ignore[arg-type]
            venue_status_reason=venue.status_reason,
            venue_status_from=venue.status_from,
            venue_status_until=venue.status_until,
        ),
        term_start=allocation.term_start,
        term_end=allocation.term_end,
        choice_rank=allocation.choice_rank,
        source=allocation.source,  # type: ignore[arg-type]
        status=allocation.status,  # type: ignore[arg-type]
        created_at=allocation.created_at,
        released_at=allocation.released_at,
        replaces_id=allocation.replaces_id,
    )


def _row_view(row: Any) -> AllocationView:
    return _view(row[0], row[1], row[2])


def _readable(principal: Principal) -> Any:
    """Allocations a caller may read: their own (vendor), their jurisdiction's rounds' (street office), any."""
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor":
        return Allocation.vendor_id == principal.vendor_id
    if principal.role == "street_office":
        return AllocationRound.jurisdiction_code == principal.jurisdiction_code
    return true()


async def get_allocation(session: AsyncSession, principal: Principal, allocation_id: uuid.UUID) -> AllocationView:
    """One allocation: the holder, staff of the round's jurisdiction, admins; anyone else 404."""
    row = (await session.execute(_select().where(Allocation.id == allocation_id, _readable(principal)))).first()
    if row is None:
        raise AllocationNotFound()
    return _view(*row)


async def find_allocation_of(session: AsyncSession, application_id: uuid.UUID) -> AllocationView | None:
    """The allocation an application led to: the one held, else the latest released."""
    row = (
        await session.execute(
            _select()
            .where(Allocation.application_id == application_id)
            .order_by((Allocation.status == "held").desc(), Allocation.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _view(*row)


async def list_allocations(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    status: AllocationStatus | None = None,
) -> Page[AllocationView]:
    """The caller's allocations (vendor), their jurisdiction's (street office) or all (admin), oldest first."""
    query = _select().where(_readable(principal))
    if status is not None:
        query = query.where(Allocation.status == status)
    return await keyset_page(
        session,
        query,
        (Allocation.created_at, Allocation.id),
        limit=limit,
        cursor=cursor,
        convert=_row_view,
        key=lambda view: (view.created_at, view.id),
    )


async def lock_road_zones_of(session: AsyncSession, pitch_ids: Sequence[uuid.UUID]) -> None:
    """Lock the road zones these pitches lie in (`FOR UPDATE`, in id order), as a road request locks its zone:
    a held pitch counts against road occupancy, so allocating one and approving an occupancy beside it are
    decided one after the other, each seeing the other's footprint."""
    if pitch_ids:
        await session.execute(
            select(Venue.id)
            .where(Venue.kind == "road_zone", Venue.id.in_(select(Pitch.venue_id).where(Pitch.id.in_(pitch_ids))))
            .order_by(Venue.id)
            .with_for_update()
        )


async def release_allocation(
    session: AsyncSession, principal: Principal, allocation_id: uuid.UUID, *, now: dt.datetime, today: dt.date
) -> Released:
    """The holder gives up their pitch; it passes to the first on the waiting list who wants it (if any)."""
    require_role(principal, "vendor")
    round_id = await session.scalar(
        select(Allocation.round_id).where(Allocation.id == allocation_id, Allocation.vendor_id == principal.vendor_id)
    )
    if round_id is None:
        raise AllocationNotFound()
    # The round first, then the allocation: one order for every release, so releases of a round queue up.
    await session.execute(select(AllocationRound.id).where(AllocationRound.id == round_id).with_for_update())
    allocation = (
        await session.execute(select(Allocation).where(Allocation.id == allocation_id).with_for_update())
    ).scalar_one()
    if allocation.status != "held":
        raise AllocationReleased()
    allocation.status = "released"
    allocation.released_at = now
    await session.flush()
    await lock_road_zones_of(session, [allocation.pitch_id])
    passed = await _pass_down(session, allocation, now=now, today=today)
    row = (await session.execute(_select().where(Allocation.id == allocation_id))).one()
    return Released(
        allocation=_view(*row),
        passed_to_applicant_ref=passed[0] if passed else None,
        passed_to_allocation_id=passed[1] if passed else None,
    )


async def _pass_down(
    session: AsyncSession, released: Allocation, *, now: dt.datetime, today: dt.date
) -> tuple[str, uuid.UUID] | None:
    """Give the released pitch to the first on the waiting list (draw order, among those the draw gave nothing)
    who chose it, has had no pitch of this round since and holds nothing for the rest of the term; nobody once
    the term is over or the pitch or its venue is closed for good."""
    start = max(released.term_start, today)
    if start > released.term_end:
        return None
    standing = (
        await session.execute(
            select(
                Pitch.status,
                Pitch.status_from,
                Pitch.status_until,
                Venue.status,
                Venue.status_from,
                Venue.status_until,
            )
            .join(Venue, Venue.id == Pitch.venue_id)
            .where(Pitch.id == released.pitch_id)
        )
    ).one()
    # As they stand now: a closure recorded with a later `from` has not closed the pitch yet.
    if "closed" in (current_status(*standing[:3], now), current_status(*standing[3:], now)):
        return None
    holding = exists().where(
        Allocation.vendor_id == RoundApplication.vendor_id,
        Allocation.status == "held",
        Allocation.term_start <= released.term_end,
        Allocation.term_end >= start,
    )
    had_one = exists().where(Allocation.application_id == RoundApplication.id)
    candidates = (
        await session.execute(
            select(
                RoundApplication.id,
                RoundApplication.vendor_id,
                RoundApplication.applicant_ref,
                RoundApplication.choices,
            )
            .where(
                RoundApplication.round_id == released.round_id,
                RoundApplication.position.is_not(None),
                literal(released.pitch_id, Uuid()) == any_(RoundApplication.choices),
                ~had_one,
                ~holding,
            )
            .order_by(RoundApplication.position)
            .limit(_CANDIDATES)
        )
    ).all()
    for candidate in candidates:
        ref = candidate.applicant_ref
        holder_no = (await holder_numbers(session, [candidate.vendor_id]))[candidate.vendor_id]
        successor = Allocation(
            id=uuid.uuid4(),
            round_id=released.round_id,
            application_id=candidate.id,
            pitch_id=released.pitch_id,
            pitch_no=released.pitch_no,
            vendor_id=candidate.vendor_id,
            holder_no=holder_no,
            term_start=start,
            term_end=released.term_end,
            choice_rank=list(candidate.choices).index(released.pitch_id) + 1,
            source="waiting_list",
            status="held",
            created_at=now,
            replaces_id=released.id,
        )
        try:
            # A savepoint: a candidate who came to hold a pitch elsewhere this very moment is passed over.
            async with session.begin_nested():
                session.add(successor)
                await session.flush()
        except IntegrityError as exc:
            if constraint_name(exc) != _HOLDER_ALLOCATED:
                raise
            continue
        return ref, successor.id
    return None


# Insert-or-get, safe under concurrency: every vendor keeps one integer key for the exclusion constraints.
_ADD_HOLDERS = text(
    "INSERT INTO venues_holder (vendor_id) SELECT unnest(:vendor_ids) ON CONFLICT (vendor_id) DO NOTHING"
).bindparams(bindparam("vendor_ids", type_=ARRAY(Uuid())))


async def add_holders(session: AsyncSession, vendor_ids: list[uuid.UUID]) -> None:
    """Give these vendors their holder keys if they have none (one statement for any number)."""
    await session.execute(_ADD_HOLDERS, {"vendor_ids": vendor_ids})


async def holder_numbers(session: AsyncSession, vendor_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The holder keys of these vendors, made where missing."""
    await add_holders(session, vendor_ids)
    ids = bindparam("holder_vendor_ids", value=vendor_ids, type_=ARRAY(Uuid()))
    rows = await session.execute(select(Holder.vendor_id, Holder.holder_no).where(Holder.vendor_id == any_(ids)))
    return {vendor_id: holder_no for vendor_id, holder_no in rows}
