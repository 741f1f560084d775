"""Allocations: GET /allocations, GET /allocations/{id} and POST /allocations/{id}/release."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from core.auth import requires
from core.deps import CurrentPrincipal, DbSession
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from venues import allocations
from venues.errors import AllocationNotFound, AllocationReleased
from venues.models import AllocationSource, AllocationStatus, PlaceStatus


class PitchStandingOut(msgspec.Struct, kw_only=True):
    """The pitch and its venue as they stand now, with any suspension or closure, its reason and period."""

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


class AllocationOut(msgspec.Struct, kw_only=True):
    """A pitch held for a term: `source` says whether the draw gave it or a release passed it down the waiting
    list (`replaces_id` then names the allocation given up)."""

    id: uuid.UUID
    round_id: uuid.UUID
    vendor_id: uuid.UUID
    pitch: PitchStandingOut
    term_start: dt.date
    term_end: dt.date
    choice_rank: int
    source: AllocationSource
    status: AllocationStatus
    created_at: dt.datetime
    released_at: dt.datetime | None
    replaces_id: uuid.UUID | None


class ReleasedOut(msgspec.Struct, kw_only=True):
    """The allocation given up, and the pseudonymous ref of the waiting applicant the pitch went to (if any)."""

    allocation: AllocationOut
    passed_to_applicant_ref: str | None


def allocation_out(view: allocations.AllocationView) -> AllocationOut:
    return msgspec.convert(msgspec.to_builtins(view), AllocationOut)


class AllocationController(Controller):
    path = "/allocations"
    tags = ("allocations",)
    security = [{"bearer": []}]

    @get(
        "/",
        operation_id="listAllocations",
        summary="Allocations: your own (vendor), your jurisdiction's (street office), all (admin)",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "Vendors see their own allocations, street offices those of their jurisdiction's rounds, admins all; "
            "departments 403. Oldest first, a page at a time, optionally by `status`."
        ),
    )
    async def list_allocations(
        self,
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[AllocationStatus | None, QueryParameter(description="held or released")] = None,
    ) -> Page[AllocationOut]:
        page = await allocations.list_allocations(session, principal, limit=limit, cursor=cursor, status=status)
        return page_of([allocation_out(view) for view in page.items], page)

    @get(
        "/{allocation_id:uuid}",
        operation_id="getAllocation",
        summary="One allocation (the holder, street office of the round's jurisdiction, admin)",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "The holder, the street office of the round's jurisdiction and admins; anyone else 404 "
            "`allocation_not_found`; departments 403. Shows the pitch's and its venue's standing now."
        ),
        opt={PROBLEMS_OPT: (AllocationNotFound,)},
    )
    async def get_allocation(
        self, allocation_id: FromPath[uuid.UUID], principal: CurrentPrincipal, session: DbSession
    ) -> AllocationOut:
        return allocation_out(await allocations.get_allocation(session, principal, allocation_id))

    @post(
        "/{allocation_id:uuid}/release",
        operation_id="releaseAllocation",
        summary="Give up your pitch; it goes to the next on the waiting list who chose it (the holder)",
        status_code=200,
        guards=[requires("vendor")],
        security=[{"bearer": []}],
        description=(
            "The holder only (a holder's own act: no If-Match); other vendors 404 `allocation_not_found`, other "
            "roles 403. The pitch passes to the first on the round's waiting list who chose it and holds no pitch "
            "for an overlapping term, for the rest of the term (nobody once the term is over or the pitch is "
            "closed). Releasing twice, or two releases at once, is a 409 `allocation_released` for all but one."
        ),
        opt={PROBLEMS_OPT: (AllocationNotFound, AllocationReleased)},
    )
    async def release(
        self,
        request: Request[Any, Any, Any],
        allocation_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[ReleasedOut]:
        settings: Settings = request.app.state.settings
        released = await allocations.release_allocation(
            session, principal, allocation_id, now=settings.now(), today=settings.today()
        )
        out = ReleasedOut(
            allocation=allocation_out(released.allocation), passed_to_applicant_ref=released.passed_to_applicant_ref
        )
        return Response(out)
