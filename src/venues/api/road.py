"""Road-occupancy requests.

POST /road-occupancy-requests, GET /road-occupancy-requests, GET /road-occupancy-requests/{id},
POST /road-occupancy-requests/{id}/withdraw.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import requires
from core.deps import CurrentPrincipal, DbSession
from core.geojson import CoordinateSystem, Polygon
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import matching
from venues import road as service
from venues.errors import (
    NotARoadZone,
    PermitFlowUnavailable,
    RoadOccupancyNotActive,
    RoadOccupancyNotFound,
    RoadOccupancyRefused,
    VenueNotFound,
    ZoneBusy,
)
from venues.models import OccupancyStatus
from venues.road_rules import RoadCheck

MAX_PERIODS: Final = 92  # one a day for the longest approval, three months (siting rules [road])
# Instants outside these years are no one's plan and would overflow on the way to UTC at the extremes.
_EARLIEST, _LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

Instant = Annotated[dt.datetime, msgspec.Meta(tz=True, description="RFC 3339 date-time with its offset")]
ActivityCode = Annotated[
    str,
    matching(
        r"^[a-z][a-z0-9_]{0,63}$",
        "must be an activity code (lower-case letters, digits and _)",
        description="An activity code of GET /activities",
    ),
]


class OccupancyPeriod(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """[start, end): from `start` up to, not including, `end`."""

    start: Instant
    end: Instant

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            try:
                inside = _EARLIEST <= value.astimezone(dt.UTC) < _LATEST
            except OverflowError:
                inside = False
            if not inside:
                raise ValueError(f"{name}: must lie between the years 2000 and 2099")
        if self.end <= self.start:
            raise ValueError("end: must be after start")


class RequestRoadOccupancy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A footprint of a road zone for some periods; `coordinate_system: "gcj02"` for a map SDK's coordinates."""

    zone_id: uuid.UUID
    footprint: Polygon
    periods: Annotated[list[OccupancyPeriod], msgspec.Meta(min_length=1, max_length=MAX_PERIODS)]
    activity_code: ActivityCode
    coordinate_system: CoordinateSystem = "wgs84"


class RoadOccupancyOut(msgspec.Struct, kw_only=True):
    """An occupancy: `fee_cny` is always 0 (`fee_exemption_basis` says why); `application_id` names the
    permit application a `pending_permit` one waits on; `venue_revision` the zone revision its checks used."""

    id: uuid.UUID
    zone_id: uuid.UUID
    vendor_id: uuid.UUID
    status: OccupancyStatus
    activity_code: str
    footprint: Polygon
    area_m2: float
    periods: list[OccupancyPeriod]
    fee_cny: int
    fee_exemption_basis: str
    checks: list[RoadCheck]
    venue_revision: int
    rules_version: str
    application_id: uuid.UUID | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


def _out(record: service.OccupancyRecord, city: ZoneInfo) -> RoadOccupancyOut:
    return RoadOccupancyOut(
        id=record.id,
        zone_id=record.zone_id,
        vendor_id=record.vendor_id,
        status=record.status,
        activity_code=record.activity_code,
        footprint=msgspec.convert(record.footprint, Polygon),
        area_m2=record.area_m2,
        # In the city's time, as a client reading the zone's schedule expects.
        periods=[
            OccupancyPeriod(start=start.astimezone(city), end=end.astimezone(city)) for start, end in record.periods
        ],
        fee_cny=record.fee_cny,
        fee_exemption_basis=record.fee_exemption_basis,
        checks=record.checks,
        venue_revision=record.venue_revision,
        rules_version=record.rules_version,
        application_id=record.application_id,
        created_at=record.created_at,
        decided_at=record.decided_at,
        withdrawn_at=record.withdrawn_at,
    )


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _permit_flow(request: Request[Any, Any, Any]) -> service.PermitFlow:
    flow: service.PermitFlow = request.app.state.permit_flow
    return flow


class RoadOccupancyController(Controller):
    path = "/road-occupancy-requests"
    tags = ("road occupancy",)
    security = [{"bearer": []}]

    @post(
        "/",
        operation_id="requestRoadOccupancy",
        summary="Request a footprint of a road zone for some periods (vendor)",
        guards=[requires("vendor")],
        description=(
            "Vendors only; others 403. Every period must lie inside one opening session of the zone and within "
            "the rules' maximum durations; the footprint must lie inside the zone, clear of restricted features' "
            "buffers for the activity's category, within the stall-area cap, overlap no approved or pending "
            "occupancy nor allocated pitch of the zone in an overlapping period, and leave the walkway clear with "
            "every such footprint counted; the zone must be open, allow the activity and have room (capacity). "
            "A sidewalk zone with a joint approval covering every period approves at once (201 `approved`, "
            "`fee_cny` 0); any other road zone hands the request to the permit flow (201 `pending_permit` with "
            "`application_id`, holding its slot), or, while no permit application exists, 409 "
            "`permit_flow_unavailable` and nothing is written. Refuses an unknown zone (404 `venue_not_found`), "
            "a venue that is not a road zone (422 `not_a_road_zone`), failed checks (422 "
            "`road_occupancy_refused` with every check in `checks`, failed ones in `errors` with their field), "
            "an unknown activity, invalid geometry, past or mutually overlapping periods (422 "
            "`validation_failed`), and, when the zone's lock is not free in time, 409 `zone_busy`."
        ),
        opt={
            PROBLEMS_OPT: (
                VenueNotFound,
                NotARoadZone,
                RoadOccupancyRefused,
                PermitFlowUnavailable,
                ZoneBusy,
            )
        },
    )
    async def request_road_occupancy(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RequestRoadOccupancy],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[RoadOccupancyOut]:
        settings = _settings(request)
        city = ZoneInfo(settings.timezone)
        record = await service.request_road_occupancy(
            session,
            principal,
            zone_id=data.zone_id,
            footprint=data.footprint,
            coordinate_system=data.coordinate_system,
            periods=[(period.start, period.end) for period in data.periods],
            activity_code=data.activity_code,
            permit_flow=_permit_flow(request),
            now=settings.now(),
            city=city,
        )
        headers = {"Location": f"/api/v1/road-occupancy-requests/{record.id}"}
        return Response(_out(record, city), status_code=201, headers=headers)

    @get(
        "/",
        operation_id="listRoadOccupancyRequests",
        summary="List road-occupancy requests (vendor: own; street office: its zones'; admin: all)",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "Vendors see their own requests, street offices those of their jurisdiction's zones, admins all; "
            "departments 403. Oldest first, a page at a time, optionally by `status` and `zone_id`."
        ),
    )
    async def list_road_occupancies(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[
            OccupancyStatus | None,
            QueryParameter(description="approved, pending_permit, refused, withdrawn or revoked"),
        ] = None,
        zone_id: Annotated[uuid.UUID | None, QueryParameter(description="Only this road zone's")] = None,
    ) -> Page[RoadOccupancyOut]:
        city = ZoneInfo(_settings(request).timezone)
        page = await service.list_road_occupancies(
            session, principal, limit=limit, cursor=cursor, status=status, zone_id=zone_id
        )
        return page_of([_out(record, city) for record in page.items], page)

    @get(
        "/{occupancy_id:uuid}",
        operation_id="getRoadOccupancyRequest",
        summary="One road-occupancy request",
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "The vendor who asked, the street office of the zone's jurisdiction and admins; anyone else gets 404 "
            "`road_occupancy_not_found` (departments 403)."
        ),
        opt={PROBLEMS_OPT: (RoadOccupancyNotFound,)},
    )
    async def get_road_occupancy(
        self,
        request: Request[Any, Any, Any],
        occupancy_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> RoadOccupancyOut:
        record = await service.get_road_occupancy(session, principal, occupancy_id)
        return _out(record, ZoneInfo(_settings(request).timezone))

    @post(
        "/{occupancy_id:uuid}/withdraw",
        operation_id="withdrawRoadOccupancyRequest",
        summary="Give up an approved or pending road occupancy (its holder)",
        status_code=200,
        guards=[requires("vendor")],
        description=(
            "The vendor who holds it, without If-Match (a holder's own act); staff 403, another vendor 404 "
            "`road_occupancy_not_found`. Its place and time are free again at once; a pending one's permit "
            "application is withdrawn with it. One already refused, withdrawn or revoked, as for the loser of two "
            "withdrawals at once: 409 `road_occupancy_not_active`."
        ),
        opt={PROBLEMS_OPT: (RoadOccupancyNotFound, RoadOccupancyNotActive)},
    )
    async def withdraw_road_occupancy(
        self,
        request: Request[Any, Any, Any],
        occupancy_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> RoadOccupancyOut:
        settings = _settings(request)
        record = await service.withdraw_road_occupancy(
            session, principal, occupancy_id, permit_flow=_permit_flow(request), now=settings.now()
        )
        return _out(record, ZoneInfo(settings.timezone))
