"""Drawing a round and what it gave: the frozen application list with its tiers, `venues.draw.draw`, the saved
results and allocations (one transaction), the public results, and each vendor's own result and why.

Opening, reading and applying are `venues.rounds`; docs/draw.md specifies the draw and, in §9, how the service
feeds it. Races the database decides: one draw per round (the round row locked FOR UPDATE; applications hold it
FOR SHARE, so a draw waits for the applications in flight at the close), one pitch per vendor per term and one
holder per pitch per term (the allocation exclusion constraints).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Text, any_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from core.auth import Principal, require_role
from core.db import driver_connection, fetchrow_or_raise
from core.errors import InvalidInput
from registry import claims as registry_claims
from venues import allocations, draw
from venues.access import managed_by
from venues.errors import (
    AlreadyHoldsPitch,
    ApplicationNotFound,
    BeaconNotYetAvailable,
    ClaimsPending,
    RoundAlreadyDrawn,
    RoundNotDrawn,
    RoundNotFound,
    RoundStillOpen,
)
from venues.models import (
    Allocation,
    AllocationRound,
    Pitch,
    RoundApplication,
    RoundPitch,
    RoundStatus,
    Venue,
)
from venues.rounds import STANDING, pitch_open, round_status, uuid_array, venue_open

_PITCH_ALLOCATED: Final = "ex_venues_allocation_pitch_term"
_HOLDER_ALLOCATED: Final = "ex_venues_allocation_holder_term"

# --- drawing --------------------------------------------------------------------------------------------------


class _Frozen(msgspec.Struct, frozen=True, kw_only=True):
    """The frozen application list of a round, with what the draw needs to save its allocations."""

    applications: list[draw.Application]
    by_ref: dict[str, tuple[uuid.UUID, uuid.UUID]]  # applicant_ref -> (application id, vendor id)
    pitch_ids: list[str]
    pitch_nos: dict[str, int]


def tier_of(groups: frozenset[str], priority_tiers: Sequence[Sequence[str]]) -> int:
    """Tier n (1 first) for a verified claim to any group of priority_tiers[n-1], first match wins; else last."""
    for number, tier in enumerate(priority_tiers, start=1):
        if groups.intersection(tier):
            return number
    return len(priority_tiers) + 1


async def _frozen(session: AsyncSession, round_: AllocationRound, *, now: dt.datetime, zone: ZoneInfo) -> _Frozen:
    """Every application of the round with its tier, leaving out applicants who hold a pitch for an overlapping
    term (one pitch per vendor per term); 409 `claims_pending` while a claim filed before the close is open.

    Only the round's pitches open at the draw (the pitch and its venue, `current_status` at `now`) are drawn:
    choices of the others are dropped, and an application left with no choice is left out."""
    pitches = [
        pitch
        for pitch in (
            await session.execute(
                select(RoundPitch.pitch_id, RoundPitch.pitch_no, *STANDING)
                .join(Pitch, Pitch.id == RoundPitch.pitch_id)
                .join(Venue, Venue.id == Pitch.venue_id)
                .where(RoundPitch.round_id == round_.id)
                .order_by(RoundPitch.position)
            )
        ).all()
        if venue_open(pitch, now) and pitch_open(pitch, now)
    ]
    drawn = {str(pitch.pitch_id) for pitch in pitches}
    # The driver straight, on the session's connection and transaction: tens of thousands of rows, their choices
    # as text (what the draw hashes), without a Python conversion per array item.
    driver = await driver_connection(session)
    fetched = await driver.fetch(_APPLICATIONS, round_.id, round_.term_start, round_.term_end)
    rows = []
    for application_id, vendor_id, ref, choices in fetched:
        kept = tuple(choice for choice in choices if choice in drawn)
        if kept:
            rows.append((application_id, vendor_id, ref, kept))
    close_date = round_.applications_close_at.astimezone(zone).date()
    claims = await registry_claims.key_groups_at_close(
        session,
        [vendor_id for _, vendor_id, _, _ in rows],
        closed_at=round_.applications_close_at,
        close_date=close_date,
    )
    if claims.pending:
        raise ClaimsPending(
            f"{claims.pending} key-group claim(s) of applicants, filed before the close, await a decision; "
            "decide them first, so that no tier depends on when staff decide"
        )
    applications: list[draw.Application] = []
    by_ref: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
    groups = claims.groups
    priority_tiers = round_.priority_tiers
    last = len(priority_tiers) + 1
    for application_id, vendor_id, ref, choices in rows:
        held = groups.get(vendor_id)
        tier = last if held is None else tier_of(held, priority_tiers)
        applications.append(draw.Application(applicant_ref=ref, tier=tier, choices=choices))
        by_ref[ref] = (application_id, vendor_id)
    return _Frozen(
        applications=applications,
        by_ref=by_ref,
        pitch_ids=[str(pitch.pitch_id) for pitch in pitches],
        pitch_nos={str(pitch.pitch_id): pitch.pitch_no for pitch in pitches},
    )


async def _check_drawable(round_: AllocationRound, beacon_value: str | None, now: dt.datetime) -> None:
    if round_.drawn_at is not None:
        raise RoundAlreadyDrawn()
    if now < round_.applications_close_at:
        raise RoundStillOpen(f"Applications close at {round_.applications_close_at.isoformat()}")
    if round_.beacon_description is None:
        if beacon_value is not None:
            raise InvalidInput.for_field("beacon_value", "this round names no beacon")
        return
    if beacon_value is None:
        raise InvalidInput.for_field("beacon_value", f"this round's draw needs its beacon: {round_.beacon_description}")
    if round_.beacon_available_after is not None and now < round_.beacon_available_after:
        raise BeaconNotYetAvailable(f"The beacon exists only after {round_.beacon_available_after.isoformat()}")


# The frozen list: every application of the round but those of vendors holding a pitch for an overlapping term.
_APPLICATIONS: Final = """
SELECT a.id, a.vendor_id, a.applicant_ref, a.choices::text[]
FROM venues_round_application AS a
WHERE a.round_id = $1
  AND NOT EXISTS (
      SELECT 1 FROM venues_allocation AS h
      WHERE h.vendor_id = a.vendor_id AND h.status = 'held' AND h.term_start <= $3 AND h.term_end >= $2
  )
"""

_SET_PLACES: Final = """
UPDATE venues_round_application AS a SET tier = t.tier, position = t.position
FROM unnest($2::uuid[], $3::int[], $4::int[]) AS t(id, tier, position)
WHERE a.round_id = $1 AND a.id = t.id
"""

# Every allocation of the draw in one statement (arrays, not one insert per pitch).
_ALLOCATE: Final = """
INSERT INTO venues_allocation (id, round_id, application_id, pitch_id, pitch_no, vendor_id, holder_no, term_start,
                               term_end, choice_rank, source, status, created_at)
SELECT a.id, $1, a.application_id, a.pitch_id, a.pitch_no, a.vendor_id, h.holder_no, $2, $3, a.choice_rank, 'draw',
       'held', $4
FROM unnest($5::uuid[], $6::uuid[], $7::uuid[], $8::int8[], $9::uuid[], $10::int[])
     AS a(id, application_id, pitch_id, pitch_no, vendor_id, choice_rank)
JOIN venues_holder AS h ON h.vendor_id = a.vendor_id
"""

_SAVE_RESULT: Final = """
UPDATE venues_allocation_round
SET result = $2::jsonb, applications_digest = $3, beacon_value = $4, drawn_at = $5, drawn_by = $6
WHERE id = $1
"""


def _draw_conflict() -> AlreadyHoldsPitch:
    # Only a draw of another round at the same moment, allocating the same vendor or pitch, gets here.
    return AlreadyHoldsPitch("An applicant came to hold a pitch for an overlapping term during the draw; draw again")


async def run_draw(
    session: AsyncSession,
    round_id: uuid.UUID,
    *,
    drawn_by: uuid.UUID,
    beacon_value: str | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> draw.DrawResult:
    """Draw a round once: lock it, freeze its applications with their tiers, run `venues.draw.draw`, and save the
    results, the tiers and every allocation in the caller's transaction (no scope check: see `draw_round`)."""
    round_ = (
        await session.execute(select(AllocationRound).where(AllocationRound.id == round_id).with_for_update())
    ).scalar_one_or_none()
    if round_ is None:
        raise RoundNotFound()
    await _check_drawable(round_, beacon_value, now)
    frozen = await _frozen(session, round_, now=now, zone=zone)
    result = draw.draw(
        round_id=str(round_.id),
        seed=round_.seed,
        beacon_value=beacon_value,
        pitch_ids=frozen.pitch_ids,
        applications=frozen.applications,
    )
    driver = await driver_connection(session)
    if result.order:
        drawn = [frozen.by_ref[entry.applicant_ref][0] for entry in result.order]
        await driver.execute(
            _SET_PLACES,
            round_.id,
            drawn,
            [entry.tier for entry in result.order],
            list(range(1, len(drawn) + 1)),
        )
    if result.assignments:
        winners = [frozen.by_ref[assignment.applicant_ref] for assignment in result.assignments]
        vendor_ids = [vendor_id for _, vendor_id in winners]
        await allocations.lock_road_zones_of(session, [uuid.UUID(a.pitch_id) for a in result.assignments])
        await allocations.add_holders(session, vendor_ids)
        await fetchrow_or_raise(
            session,
            _ALLOCATE,
            round_.id,
            round_.term_start,
            round_.term_end,
            now,
            [uuid.uuid4() for _ in winners],
            [application_id for application_id, _ in winners],
            [assignment.pitch_id for assignment in result.assignments],
            [frozen.pitch_nos[assignment.pitch_id] for assignment in result.assignments],
            vendor_ids,
            [assignment.choice_rank for assignment in result.assignments],
            errors={_PITCH_ALLOCATED: _draw_conflict, _HOLDER_ALLOCATED: _draw_conflict},
        )
    await driver.execute(
        _SAVE_RESULT,
        round_.id,
        msgspec.json.encode(result).decode(),
        result.applications_digest,
        beacon_value,
        now,
        drawn_by,
    )
    return result


async def draw_round(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    *,
    beacon_value: str | None,
    now: dt.datetime,
    zone: ZoneInfo,
) -> draw.DrawResult:
    """The draw, by a street office of the round's jurisdiction or an admin (404 for another jurisdiction's
    office, before any state is checked)."""
    require_role(principal, "street_office", "admin")
    found = await session.scalar(
        select(AllocationRound.id).where(
            AllocationRound.id == round_id, managed_by(principal, AllocationRound.jurisdiction_code)
        )
    )
    if found is None:
        raise RoundNotFound()
    return await run_draw(
        session, round_id, drawn_by=principal.account_id, beacon_value=beacon_value, now=now, zone=zone
    )


async def get_results(session: AsyncSession, round_id: uuid.UUID) -> draw.DrawResult:
    """The public results of a drawn round (409 `round_not_drawn` before the draw)."""
    row = (
        await session.execute(
            select(AllocationRound.id, func.cast(AllocationRound.result, Text()).label("result")).where(
                AllocationRound.id == round_id
            )
        )
    ).first()
    if row is None:
        raise RoundNotFound()
    if row.result is None:
        raise RoundNotDrawn()
    return msgspec.json.decode(row.result, type=draw.DrawResult)


# --- what a vendor got, and why --------------------------------------------------------------------------------

# awaiting_draw: applied, not drawn yet; allocated: holds a pitch (from the draw or the waiting list); waiting: on
# the waiting list; released: gave up the pitch they had; left_out: held a pitch for an overlapping term at the
# draw, or none of their choices was open at the draw, so their application was not in the frozen list.
MyRoundStatus = Literal["awaiting_draw", "allocated", "waiting", "released", "left_out"]
# A choice's fate in the draw: the one they got, one an applicant ahead of them took first, or one below the
# choice they got (never needed).
ChoiceOutcome = Literal["assigned", "taken_before_your_turn", "not_needed"]


class ChoiceResult(msgspec.Struct, frozen=True, kw_only=True):
    pitch_id: uuid.UUID
    choice_rank: int
    outcome: ChoiceOutcome | None
    # The draw position of the applicant who took it before this vendor's turn.
    taken_by_position: int | None = None


class MyResult(msgspec.Struct, frozen=True, kw_only=True):
    round_id: uuid.UUID
    round_status: RoundStatus
    application_id: uuid.UUID
    applicant_ref: str
    activity_code: str | None
    submitted_at: dt.datetime
    status: MyRoundStatus
    tier: int | None
    position: int | None
    lottery_key: str | None
    waiting_position: int | None
    choices: list[ChoiceResult]
    allocation: allocations.AllocationView | None


async def my_result(session: AsyncSession, principal: Principal, round_id: uuid.UUID, *, now: dt.datetime) -> MyResult:
    """What the vendor got in this round and why: their tier and place in the draw order, what became of each of
    their choices (taken by whom, by draw position, before their turn), their waiting-list place, and the pitch
    they hold now with its standing. 404 when they did not apply."""
    require_role(principal, "vendor")
    # Not the published result (megabytes for a big round): what my-result needs is in the round's other columns.
    round_ = (
        await session.execute(
            select(AllocationRound).where(AllocationRound.id == round_id).options(defer(AllocationRound.result))
        )
    ).scalar_one_or_none()
    if round_ is None:
        raise RoundNotFound()
    application = (
        await session.execute(
            select(RoundApplication).where(
                RoundApplication.round_id == round_id, RoundApplication.vendor_id == principal.vendor_id
            )
        )
    ).scalar_one_or_none()
    if application is None:
        raise ApplicationNotFound()
    fields: dict[str, Any] = {
        "round_id": round_id,
        "round_status": round_status(round_, now),
        "application_id": application.id,
        "applicant_ref": application.applicant_ref,
        "activity_code": application.activity_code,
        "submitted_at": application.submitted_at,
        "tier": application.tier,
        "position": None,
        "lottery_key": None,
        "waiting_position": None,
        "allocation": None,
    }
    plain = [
        ChoiceResult(pitch_id=choice, choice_rank=rank, outcome=None)
        for rank, choice in enumerate(application.choices, start=1)
    ]
    if round_.drawn_at is None:
        return MyResult(status="awaiting_draw", choices=plain, **fields)
    if application.position is None:
        return MyResult(status="left_out", choices=plain, **fields)
    # From rows, not the published result: the draw's allocations of this round that took the vendor's choices
    # (released ones included: the draw's outcome does not change), with the takers' draw positions.
    taken = (
        await session.execute(
            select(Allocation.pitch_id, Allocation.application_id, RoundApplication.position)
            .join(RoundApplication, RoundApplication.id == Allocation.application_id)
            .where(
                Allocation.round_id == round_id,
                Allocation.source == "draw",
                Allocation.pitch_id == any_(uuid_array("mine", application.choices)),
            )
        )
    ).all()
    taken_by = {row.pitch_id: row.position for row in taken}
    got = next((row.pitch_id for row in taken if row.application_id == application.id), None)
    got_rank = application.choices.index(got) + 1 if got is not None else None
    choices = []
    for rank, choice in enumerate(application.choices, start=1):
        if got_rank is not None and rank == got_rank:
            choices.append(ChoiceResult(pitch_id=choice, choice_rank=rank, outcome="assigned"))
        elif got_rank is not None and rank > got_rank:
            choices.append(ChoiceResult(pitch_id=choice, choice_rank=rank, outcome="not_needed"))
        else:
            choices.append(
                ChoiceResult(
                    pitch_id=choice,
                    choice_rank=rank,
                    outcome="taken_before_your_turn",
                    taken_by_position=taken_by.get(choice),
                )
            )
    allocation = await allocations.find_allocation_of(session, application.id)
    if allocation is not None:
        status: MyRoundStatus = "allocated" if allocation.status == "held" else "released"
    else:
        status = "waiting"
    waiting_position = None
    if got is None:
        # The waiting list is everyone the draw served and gave nothing, in draw order.
        waiting_position = await session.scalar(
            select(func.count()).where(
                RoundApplication.round_id == round_id,
                RoundApplication.position <= application.position,
                ~exists().where(Allocation.application_id == RoundApplication.id, Allocation.source == "draw"),
            )
        )
    fields.update(
        position=application.position,
        lottery_key=draw.lottery_key(str(round_.id), round_.seed, round_.beacon_value, application.applicant_ref),
        waiting_position=waiting_position if status == "waiting" else None,
        allocation=allocation,
    )
    return MyResult(status=status, choices=choices, **fields)


__all__ = ["ChoiceOutcome", "MyResult", "MyRoundStatus", "draw_round", "get_results", "my_result", "run_draw"]
