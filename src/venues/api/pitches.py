"""Pitches: POST/GET /venues/{id}/pitches, GET/PATCH /pitches/{id}, POST /pitches/{id}/status."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody
from msgspec import UNSET, UnsetType

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.geojson import Area, CoordinateSystem
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from venues import pitches as service
from venues.api.venues import ChangeStatus, Reason
from venues.errors import PitchLabelTaken, PitchNotFound, PitchRejected, VenueNotFound, VenueNotOpen
from venues.models import Pitch, PlaceStatus
from venues.siting import Check
from venues.venues import current_status

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=40, description="Unique in its venue, e.g. A-03")]
_GEOMETRY_DOC = "A GeoJSON Polygon or MultiPolygon inside the venue (WGS84, or GCJ-02 with coordinate_system)"


class MarkPitch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label: Label
    geometry: Annotated[Area, msgspec.Meta(description=_GEOMETRY_DOC)]
    coordinate_system: CoordinateSystem = "wgs84"


class AmendPitch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new label or shape (a new shape is checked again); `reason` goes into the revision."""

    label: Label | UnsetType = UNSET
    geometry: Annotated[Area, msgspec.Meta(description=_GEOMETRY_DOC)] | UnsetType = UNSET
    coordinate_system: CoordinateSystem = "wgs84"
    reason: Reason | None = None


class PitchOut(msgspec.Struct, kw_only=True):
    """A pitch with the siting checks it passed, the rules' version and the venue revision they used."""

    id: uuid.UUID
    venue_id: uuid.UUID
    label: str
    geometry: Area
    area_m2: float
    status: PlaceStatus
    current_status: PlaceStatus
    status_reason: str | None
    status_from: dt.datetime | None
    status_until: dt.datetime | None
    checks: list[Check]
    rules_version: str
    venue_revision: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def pitch_out(pitch: Pitch, *, now: dt.datetime) -> PitchOut:
    return PitchOut(
        id=pitch.id,
        venue_id=pitch.venue_id,
        label=pitch.label,
        geometry=msgspec.convert(pitch.geometry, Area),
        area_m2=pitch.area_m2,
        status=pitch.status,  # type: ignore[arg-type]  # CHECK status_known
        current_status=current_status(pitch.status, pitch.status_from, pitch.status_until, now),
        status_reason=pitch.status_reason,
        status_from=pitch.status_from,
        status_until=pitch.status_until,
        checks=[msgspec.convert(check, Check) for check in pitch.checks],
        rules_version=pitch.rules_version,
        venue_revision=pitch.venue_revision,
        version=pitch.version,
        created_at=pitch.created_at,
        updated_at=pitch.updated_at,
    )


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _reply(request: Request[Any, Any, Any], pitch: Pitch, status_code: int = 200) -> Response[PitchOut]:
    headers = etag(pitch.version)
    if status_code == 201:
        headers["Location"] = f"/api/v1/pitches/{pitch.id}"
    return Response(pitch_out(pitch, now=_settings(request).now()), status_code=status_code, headers=headers)


_WHO = (
    "Street offices, for pitches of venues in their own jurisdiction (another jurisdiction's pitch is a 404 "
    "`pitch_not_found`, before If-Match is looked at), and admins; vendors and departments 403."
)


class PitchController(Controller):
    path = "/"
    tags = ("pitches",)

    @post(
        "/venues/{venue_id:uuid}/pitches",
        operation_id="markPitch",
        summary="Draw a pitch in a venue, checked against the siting rules",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            "Street offices, in venues of their own jurisdiction (another's is a 404 `venue_not_found`), and "
            "admins; vendors and departments 403. The pitch must pass every siting check — inside the venue, no "
            "overlap with its other open or suspended pitches, clear of every restricted feature's buffer for "
            "the categories the venue allows, the stall-area cap, and on road zones the walkway left clear — or "
            "the answer is a 422 `pitch_rejected` with `checks: [{check, passed, detail, …numbers}]`, every check "
            "reported. Of overlapping pitches drawn at once, one is drawn. A closed venue takes none (409 "
            "`venue_not_open`); a label is unique in its venue (409 `pitch_label_taken`). 201 with Location."
        ),
        opt={PROBLEMS_OPT: (VenueNotFound, PitchRejected, VenueNotOpen, PitchLabelTaken)},
        response_headers=[ETAG_HEADER],
    )
    async def mark_pitch(
        self,
        request: Request[Any, Any, Any],
        venue_id: FromPath[uuid.UUID],
        data: JSONBody[MarkPitch],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[PitchOut]:
        pitch = await service.mark_pitch(
            session,
            principal,
            venue_id,
            label=data.label,
            geometry=data.geometry,
            coordinate_system=data.coordinate_system,
            now=_settings(request).now(),
        )
        return _reply(request, pitch, 201)

    @get(
        "/venues/{venue_id:uuid}/pitches",
        operation_id="listPitches",
        summary="A venue's pitches (anyone)",
        description="Anyone. A venue's pitches in the order they were drawn, a page at a time; 404 `venue_not_found`.",
        opt={PROBLEMS_OPT: (VenueNotFound,)},
    )
    async def list_pitches(
        self,
        request: Request[Any, Any, Any],
        venue_id: FromPath[uuid.UUID],
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[PitchOut]:
        page = await service.list_pitches(session, venue_id, limit=limit, cursor=cursor)
        now = _settings(request).now()
        return page_of([pitch_out(pitch, now=now) for pitch in page.items], page)

    @get(
        "/pitches/{pitch_id:uuid}",
        operation_id="getPitch",
        summary="One pitch, with its ETag (anyone)",
        description="Anyone. One pitch with the checks it passed and its ETag; 404 `pitch_not_found`.",
        opt={PROBLEMS_OPT: (PitchNotFound,)},
        response_headers=[ETAG_HEADER],
    )
    async def get_pitch(
        self, request: Request[Any, Any, Any], pitch_id: FromPath[uuid.UUID], session: DbSession
    ) -> Response[PitchOut]:
        return _reply(request, await service.get_pitch(session, pitch_id))

    @patch(
        "/pitches/{pitch_id:uuid}",
        operation_id="amendPitch",
        summary="Relabel or redraw a pitch (If-Match)",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            f"{_WHO} Send the pitch's ETag in If-Match (absent 428, stale 412). A new shape is checked again "
            "against the venue as it stands (422 `pitch_rejected` with every check); a label is unique in its "
            "venue (409 `pitch_label_taken`). Makes a new revision."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (PitchNotFound, PitchRejected, PitchLabelTaken)},
        response_headers=[ETAG_HEADER],
    )
    async def amend_pitch(
        self,
        request: Request[Any, Any, Any],
        pitch_id: FromPath[uuid.UUID],
        data: JSONBody[AmendPitch],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[PitchOut]:
        pitch = await service.amend_pitch(
            session,
            principal,
            pitch_id,
            label=None if isinstance(data.label, UnsetType) else data.label,
            geometry=None if isinstance(data.geometry, UnsetType) else data.geometry,
            coordinate_system=data.coordinate_system,
            reason=data.reason,
            precondition=precondition,
            now=_settings(request).now(),
        )
        return _reply(request, pitch)

    @post(
        "/pitches/{pitch_id:uuid}/status",
        operation_id="changePitchStatus",
        summary="Open, suspend or close a pitch (If-Match)",
        status_code=200,
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            f"{_WHO} Send the pitch's ETag in If-Match (absent 428, stale 412). `suspended` and `closed` need a "
            "`reason`; a suspension may end at `until`. Reopening a closed pitch checks it again (422 "
            "`pitch_rejected`), and a closed venue reopens none (409 `venue_not_open`). Makes a new revision."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (PitchNotFound, PitchRejected, VenueNotOpen)},
        response_headers=[ETAG_HEADER],
    )
    async def change_pitch_status(
        self,
        request: Request[Any, Any, Any],
        pitch_id: FromPath[uuid.UUID],
        data: JSONBody[ChangeStatus],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[PitchOut]:
        pitch = await service.change_pitch_status(
            session,
            principal,
            pitch_id,
            status=data.status,
            reason=data.reason,
            status_from=data.status_from,
            until=data.until,
            precondition=precondition,
            now=_settings(request).now(),
        )
        return _reply(request, pitch)
