"""Allocation rounds: POST/GET /allocation-rounds, GET /allocation-rounds/{id}, POST …/applications,
POST …/draw, GET …/results and GET …/my-result."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.spec import OpenAPI, RequestBody, Schema
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import requires
from core.deps import CurrentPrincipal, DbSession
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import free_text
from registry.catalogue import Code
from registry.policies import KeyGroup
from venues import draw, round_results, rounds
from venues.api.allocations import AllocationOut, allocation_out
from venues.errors import (
    AlreadyApplied,
    AlreadyHoldsPitch,
    ApplicationNotFound,
    ApplicationsClosed,
    BeaconNotYetAvailable,
    ClaimsPending,
    PitchInAnotherRound,
    PitchNotOpen,
    PitchOccupied,
    RoundAlreadyDrawn,
    RoundNotDrawn,
    RoundNotFound,
    RoundStillOpen,
    VenueNotOpen,
)
from venues.models import RoundStatus

AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
RoundName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
PriorityTier = Annotated[list[KeyGroup], msgspec.Meta(min_length=1, max_length=4)]


class BeaconIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A public value that will exist only after the close, e.g. a stated lottery draw and its date."""

    description: Annotated[str, free_text(500)]
    available_after: AwareDatetime


class BeaconOut(msgspec.Struct, kw_only=True):
    description: str
    available_after: dt.datetime


class OpenRound(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`priority_tiers`: tier n holds applicants with a verified claim to any key group of list n (first match
    wins), everyone else comes last; each tier names at least two groups (a tier is public: one group alone would
    reveal its applicants' group); default `[[all four groups]]`, `[]` for no priority. The term and the
    close are checked against each other and the clock (422 naming the field)."""

    name: RoundName
    pitch_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=rounds.MAX_ROUND_PITCHES)]
    term_start: dt.date
    term_end: dt.date
    applications_close_at: AwareDatetime
    priority_tiers: Annotated[list[PriorityTier], msgspec.Meta(max_length=4)] | None = None
    beacon: BeaconIn | None = None


class RoundOut(msgspec.Struct, kw_only=True):
    """A round, public: `status` is derived from the time until it is drawn; the seed appears only in the
    results, after the draw; `applications_digest` once drawn."""

    id: uuid.UUID
    name: str
    jurisdiction_code: str
    status: RoundStatus
    term_start: dt.date
    term_end: dt.date
    applications_close_at: dt.datetime
    priority_tiers: list[list[KeyGroup]]
    seed_commitment: str
    beacon: BeaconOut | None
    beacon_value: str | None
    pitch_ids: list[uuid.UUID]
    pitch_count: int
    application_count: int
    applications_digest: str | None
    drawn_at: dt.datetime | None
    created_at: dt.datetime


class RoundSummaryOut(msgspec.Struct, kw_only=True):
    """A round in a list (its pitches by count; GET the round for their ids)."""

    id: uuid.UUID
    name: str
    jurisdiction_code: str
    status: RoundStatus
    term_start: dt.date
    term_end: dt.date
    applications_close_at: dt.datetime
    seed_commitment: str
    beacon: BeaconOut | None
    pitch_count: int
    application_count: int
    drawn_at: dt.datetime | None
    created_at: dt.datetime


class ApplyToRound(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """1 to 5 distinct pitches of the round, best first; `activity_code` must be allowed at each one's venue."""

    choices: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=rounds.MAX_CHOICES)]
    activity_code: Code | None = None


class RoundApplicationOut(msgspec.Struct, kw_only=True):
    """`applicant_ref`: the applicant's pseudonym in this round's public results (random, unlinkable)."""

    id: uuid.UUID
    round_id: uuid.UUID
    applicant_ref: str
    choices: list[uuid.UUID]
    activity_code: str | None
    submitted_at: dt.datetime


class DrawRound(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`beacon_value`: the beacon's public value, exactly as published (required when the round names one, refused
    when it names none: send no body, or `{}`)."""

    beacon_value: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class OrderEntryOut(msgspec.Struct, kw_only=True):
    applicant_ref: str
    tier: int
    lottery_key: str
    choices: list[str]


class AssignmentOut(msgspec.Struct, kw_only=True):
    applicant_ref: str
    pitch_id: str
    choice_rank: int


class RoundResultsOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Everything needed to recompute the draw (docs/draw.md, `flexreg verify-draw`), nothing that names a person
    or a key group: `order` in the order the draw served the applicants, `choice_rank` from 1."""

    algorithm: str
    round_id: str
    seed: str
    seed_commitment: str
    pitch_ids: list[str]
    applications_digest: str
    order: list[OrderEntryOut]
    assignments: list[AssignmentOut]
    waiting_list: list[str]
    beacon_value: str | None = None


class ChoiceResultOut(msgspec.Struct, kw_only=True):
    """`outcome` is null until the draw; `taken_by_position`: the draw position of who took it first."""

    pitch_id: uuid.UUID
    choice_rank: int
    outcome: round_results.ChoiceOutcome | None
    taken_by_position: int | None


class MyResultOut(msgspec.Struct, kw_only=True):
    """What you got and why. `position` counts from 1 in the draw order (`tier` first, then the lottery key);
    `waiting_position` is your place on the waiting list; `allocation` is the pitch you hold (or gave up), with
    its and its venue's standing (a suspension or closure and its reason)."""

    round_id: uuid.UUID
    round_status: RoundStatus
    application_id: uuid.UUID
    applicant_ref: str
    activity_code: str | None
    submitted_at: dt.datetime
    status: round_results.MyRoundStatus
    tier: int | None
    position: int | None
    lottery_key: str | None
    waiting_position: int | None
    choices: list[ChoiceResultOut]
    allocation_id: uuid.UUID | None
    allocation: AllocationOut | None


def _my_result_out(result: round_results.MyResult) -> MyResultOut:
    return MyResultOut(
        round_id=result.round_id,
        round_status=result.round_status,
        application_id=result.application_id,
        applicant_ref=result.applicant_ref,
        activity_code=result.activity_code,
        submitted_at=result.submitted_at,
        status=result.status,
        tier=result.tier,
        position=result.position,
        lottery_key=result.lottery_key,
        waiting_position=result.waiting_position,
        choices=[
            ChoiceResultOut(
                pitch_id=choice.pitch_id,
                choice_rank=choice.choice_rank,
                outcome=choice.outcome,
                taken_by_position=choice.taken_by_position,
            )
            for choice in result.choices
        ],
        allocation_id=result.allocation.id if result.allocation is not None else None,
        allocation=allocation_out(result.allocation) if result.allocation is not None else None,
    )


def _round_out(view: rounds.RoundView) -> RoundOut:
    return RoundOut(
        id=view.id,
        name=view.name,
        jurisdiction_code=view.jurisdiction_code,
        status=view.status,
        term_start=view.term_start,
        term_end=view.term_end,
        applications_close_at=view.applications_close_at,
        priority_tiers=view.priority_tiers,  # type: ignore[arg-type]
        seed_commitment=view.seed_commitment,
        beacon=_beacon_out(view.beacon),
        beacon_value=view.beacon_value,
        pitch_ids=view.pitch_ids or [],
        pitch_count=view.pitch_count,
        application_count=view.application_count,
        applications_digest=view.applications_digest,
        drawn_at=view.drawn_at,
        created_at=view.created_at,
    )


def _summary_out(view: rounds.RoundView) -> RoundSummaryOut:
    return RoundSummaryOut(
        id=view.id,
        name=view.name,
        jurisdiction_code=view.jurisdiction_code,
        status=view.status,
        term_start=view.term_start,
        term_end=view.term_end,
        applications_close_at=view.applications_close_at,
        seed_commitment=view.seed_commitment,
        beacon=_beacon_out(view.beacon),
        pitch_count=view.pitch_count,
        application_count=view.application_count,
        drawn_at=view.drawn_at,
        created_at=view.created_at,
    )


def _beacon_out(beacon: rounds.Beacon | None) -> BeaconOut | None:
    return None if beacon is None else BeaconOut(description=beacon.description, available_after=beacon.available_after)


def results_out(result: draw.DrawResult) -> RoundResultsOut:
    return msgspec.convert(msgspec.to_builtins(result), RoundResultsOut)


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _zone(request: Request[Any, Any, Any]) -> ZoneInfo:
    return ZoneInfo(_settings(request).timezone)


def _now(request: Request[Any, Any, Any]) -> dt.datetime:
    return _settings(request).now()


def _application_out(application: Any) -> RoundApplicationOut:
    return RoundApplicationOut(
        id=application.id,
        round_id=application.round_id,
        applicant_ref=application.applicant_ref,
        choices=list(application.choices),
        activity_code=application.activity_code,
        submitted_at=application.submitted_at,
    )


DRAW_PATH = "/api/v1/allocation-rounds/{round_id}/draw"


def document_draw_body(schema: OpenAPI) -> None:
    """The draw's body may be left out (Litestar marks every body required): a round without a beacon is drawn
    with no body, or `{}`; the schema names DrawRound, not its `null` alternative."""
    item = (schema.paths or {}).get(DRAW_PATH)
    body = item.post.request_body if item is not None and item.post is not None else None
    if not isinstance(body, RequestBody):
        return
    body.required = False
    for media in (body.content or {}).values():
        if isinstance(media.schema, Schema) and media.schema.one_of:
            kept = [item for item in media.schema.one_of if not (isinstance(item, Schema) and item.type == "null")]
            if len(kept) == 1:
                media.schema = kept[0]


class RoundController(Controller):
    path = "/allocation-rounds"
    tags = ("allocation rounds",)

    @post(
        "/",
        operation_id="openRound",
        summary="Open an allocation round over pitches of your jurisdiction (street office, admin)",
        guards=[requires("street_office", "admin")],
        security=[{"bearer": []}],
        description=(
            "Street offices (pitches of their own jurisdiction) and admins; others 403. Publishes `seed_commitment`, "
            "the SHA-256 of a secret 32-byte seed revealed only by the draw. Refuses pitches that do not exist or "
            "lie outside your jurisdiction (the same 422 `validation_failed` naming `pitch_ids`, listing them), "
            "repeated pitches, pitches of two jurisdictions, a term ending before it starts or longer than 366 days, "
            "a close in the past, more than 366 days ahead or after the term starts, a beacon available before the "
            "close or more than 31 days after it, key groups repeated in `priority_tiers` and a tier naming fewer "
            "than two groups (422 naming `priority_tiers`: tiers and each applicant's tier are public, so a tier of "
            "one group would reveal its applicants' group, DOMAIN §7.3); closed or suspended venues (409 "
            "`venue_not_open`) and pitches (409 `pitch_not_open`); a pitch already in a round with an overlapping "
            "term (409 `pitch_in_another_round`); a pitch of a road zone whose area an approved or pending road "
            "occupancy reaches into during the term's days (409 `pitch_occupied`). Answers 201 with the round's "
            "Location."
        ),
        opt={PROBLEMS_OPT: (VenueNotOpen, PitchNotOpen, PitchInAnotherRound, PitchOccupied)},
    )
    async def open_round(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[OpenRound],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[RoundOut]:
        beacon = None
        if data.beacon is not None:
            beacon = rounds.Beacon(description=data.beacon.description, available_after=data.beacon.available_after)
        view = await rounds.open_round(
            session,
            principal,
            name=data.name,
            pitch_ids=data.pitch_ids,
            term_start=data.term_start,
            term_end=data.term_end,
            applications_close_at=data.applications_close_at,
            priority_tiers=data.priority_tiers,
            beacon=beacon,
            now=_now(request),
            zone=_zone(request),
        )
        headers = {"Location": f"/api/v1/allocation-rounds/{view.id}"}
        return Response(_round_out(view), status_code=201, headers=headers)

    @get(
        "/",
        operation_id="listRounds",
        summary="List allocation rounds (public), by jurisdiction and status",
        description=(
            "Public. Rounds in the order they were opened, a page at a time, optionally of one `jurisdiction_code` "
            "and one `status` (`open` until applications close, then `closed` until drawn, then `drawn`)."
        ),
    )
    async def list_rounds(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        jurisdiction_code: Annotated[
            str | None, QueryParameter(pattern=r"^[0-9]{12}$", description="12-digit division code")
        ] = None,
        status: Annotated[RoundStatus | None, QueryParameter(description="open, closed or drawn")] = None,
    ) -> Page[RoundSummaryOut]:
        page = await rounds.list_rounds(
            session,
            now=_now(request),
            limit=limit,
            cursor=cursor,
            jurisdiction_code=jurisdiction_code,
            status=status,
        )
        return page_of([_summary_out(view) for view in page.items], page)

    @get(
        "/{round_id:uuid}",
        operation_id="getRound",
        summary="One allocation round (public): terms, status, seed commitment, beacon, pitches, counts",
        description=(
            "Public; never the seed before the draw and never who applied. 404 `round_not_found` for an unknown id."
        ),
        opt={PROBLEMS_OPT: (RoundNotFound,)},
    )
    async def get_round(
        self, request: Request[Any, Any, Any], round_id: FromPath[uuid.UUID], session: DbSession
    ) -> RoundOut:
        return _round_out(await rounds.get_round(session, round_id, now=_now(request)))

    @post(
        "/{round_id:uuid}/applications",
        operation_id="applyToRound",
        summary="Apply to a round with up to five ranked pitches (vendor, once per round)",
        guards=[requires("vendor")],
        security=[{"bearer": []}],
        description=(
            "Vendors only; others 403. Answers 201 with the application and its `applicant_ref`, the random "
            "pseudonym the public results show. Refuses repeated choices, choices outside the round, an unknown "
            "`activity_code` or one a chosen pitch's venue does not allow, and more than five choices or none (422 "
            "`validation_failed` naming the field); a closed or suspended venue (409 `venue_not_open`) or pitch (409 "
            "`pitch_not_open`); after the close (409 `applications_closed`); a second application (409 "
            "`already_applied`); and a vendor holding a pitch for an overlapping term (409 `already_holds_pitch`)."
        ),
        opt={
            PROBLEMS_OPT: (
                RoundNotFound,
                ApplicationsClosed,
                AlreadyApplied,
                AlreadyHoldsPitch,
                VenueNotOpen,
                PitchNotOpen,
            )
        },
    )
    async def apply(
        self,
        request: Request[Any, Any, Any],
        round_id: FromPath[uuid.UUID],
        data: JSONBody[ApplyToRound],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[RoundApplicationOut]:
        application = await rounds.apply_to_round(
            session,
            principal,
            round_id,
            choices=data.choices,
            activity_code=data.activity_code,
            now=_now(request),
        )
        headers = {"Location": f"/api/v1/allocation-rounds/{round_id}/my-result"}
        return Response(_application_out(application), status_code=201, headers=headers)

    @post(
        "/{round_id:uuid}/draw",
        operation_id="drawRound",
        summary="Draw a closed round once and allocate its pitches (street office of its jurisdiction, admin)",
        status_code=200,
        guards=[requires("street_office", "admin")],
        security=[{"bearer": []}],
        description=(
            "Street offices of the round's jurisdiction and admins; vendors and departments 403, another "
            "jurisdiction's office 404 `round_not_found` before any state is checked. The body may be left out for a "
            "round without a beacon. Answers the public results. "
            "Refuses a draw before the close (409 `round_still_open`), a second draw (409 `round_already_drawn`), "
            "a round with a beacon drawn without `beacon_value` or one without a beacon drawn with it (422 naming "
            "`beacon_value`) or before the beacon exists (409 `beacon_not_available`), and a draw while key-group "
            "claims of applicants filed before the close are undecided (409 `claims_pending`). Tiers use only "
            "claims filed before the close, verified and valid on the close's date; applicants holding a pitch "
            "for an overlapping term are left out of the frozen list. Only the round's pitches open at the draw (the "
            "pitch and its venue) are drawn and published in `pitch_ids`: choices of the others are dropped, and an "
            "application left with no choice is left out."
        ),
        opt={
            PROBLEMS_OPT: (
                RoundNotFound,
                RoundStillOpen,
                RoundAlreadyDrawn,
                BeaconNotYetAvailable,
                ClaimsPending,
                AlreadyHoldsPitch,
            )
        },
    )
    async def draw(
        self,
        request: Request[Any, Any, Any],
        round_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        data: JSONBody[DrawRound | None] = None,
    ) -> RoundResultsOut:
        result = await round_results.draw_round(
            session,
            principal,
            round_id,
            beacon_value=data.beacon_value if data is not None else None,
            now=_now(request),
            zone=_zone(request),
        )
        return results_out(result)

    @get(
        "/{round_id:uuid}/results",
        operation_id="getRoundResults",
        summary="The public results of a drawn round, enough to recompute it (flexreg verify-draw)",
        description=(
            "Public: the seed, its commitment, the beacon value, the pitches, the applications digest, every "
            "applicant in draw order with tier, lottery key and choices, the assignments and the waiting list; "
            "applicants appear only by their pseudonymous `applicant_ref`, never with a name or key group. 409 "
            "`round_not_drawn` before the draw."
        ),
        opt={PROBLEMS_OPT: (RoundNotFound, RoundNotDrawn)},
    )
    async def results(self, round_id: FromPath[uuid.UUID], session: DbSession) -> RoundResultsOut:
        return results_out(await round_results.get_results(session, round_id))

    @get(
        "/{round_id:uuid}/my-result",
        operation_id="getMyRoundResult",
        summary="What you got in a round and why (the vendor who applied)",
        guards=[requires("vendor")],
        security=[{"bearer": []}],
        description=(
            "Vendors only; others 403. Your applicant_ref, status, tier, position in the draw order, what became of "
            "each choice (taken by an applicant ahead of you, by their position), your waiting-list place, and the "
            "pitch you hold with its `allocation_id` and its and its venue's standing. 404 `round_not_found` for an "
            "unknown round, 404 `application_not_found` when you did not apply."
        ),
        opt={PROBLEMS_OPT: (RoundNotFound, ApplicationNotFound)},
    )
    async def my_result(
        self,
        request: Request[Any, Any, Any],
        round_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> MyResultOut:
        return _my_result_out(await round_results.my_result(session, principal, round_id, now=_now(request)))
