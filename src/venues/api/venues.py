"""Venues: POST/GET /venues, GET/PATCH /venues/{id}, POST /venues/{id}/status, GET /venues/{id}/map."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UNSET, UnsetType

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.errors import InvalidInput
from core.geojson import Area, CoordinateSystem, Geometry
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import free_text
from registry.api.params import JurisdictionCode
from registry.catalogue import Category
from registry.errors import JurisdictionNotFound
from venues import venue_map
from venues import venues as service
from venues.errors import GeometryOutsideJurisdiction, VenueNotFound
from venues.models import PlaceStatus, Venue
from venues.schedule import Schedule, Window
from venues.siting import FeatureKind, VenueKind
from venues.venues import Designation, DesignationStatus, JointApproval, RoadRequests

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Categories = Annotated[list[Category], msgspec.Meta(min_length=1, max_length=6)]
ClosedDates = Annotated[list[dt.date], msgspec.Meta(max_length=366, description="Dates the venue does not open")]
ClearanceM = Annotated[float, msgspec.Meta(gt=0, le=20, description="Walkway to leave clear, metres (road zones)")]
WidthM = Annotated[float, msgspec.Meta(gt=0, le=100, description="Sidewalk width, metres (road zones)")]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Occupancies the zone takes at once")]
Reason = Annotated[str, free_text(2000)]
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]

_GEOMETRY_DOC = (
    "A GeoJSON Polygon or MultiPolygon (WGS84 [longitude, latitude], or GCJ-02 with coordinate_system gcj02), "
    "valid, inside the jurisdiction, at most 5,000 vertices and 1 km²"
)


class EstablishVenue(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A venue: `designation` only on a designated_zone; `joint_approval`, `carriageway`, `sidewalk_width_m`
    and `min_clearance_m` only on a road_zone."""

    name: Name
    kind: VenueKind
    jurisdiction_code: JurisdictionCode
    geometry: Annotated[Area, msgspec.Meta(description=_GEOMETRY_DOC)]
    schedule: Schedule
    valid_from: dt.date
    allowed_categories: Categories
    valid_to: dt.date | None = None
    closed_dates: ClosedDates = []
    carriageway: bool = False
    min_clearance_m: ClearanceM | None = None
    sidewalk_width_m: WidthM | None = None
    capacity: Capacity | None = None
    designation: Designation | None = None
    joint_approval: JointApproval | None = None
    coordinate_system: CoordinateSystem = "wgs84"

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: must not be before valid_from")


class AmendVenue(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fields to change (others stay); null clears an optional field. The kind and jurisdiction stay."""

    name: Name | UnsetType = UNSET
    geometry: Annotated[Area, msgspec.Meta(description=_GEOMETRY_DOC)] | UnsetType = UNSET
    schedule: Schedule | UnsetType = UNSET
    valid_from: dt.date | UnsetType = UNSET
    valid_to: dt.date | UnsetType | None = UNSET
    closed_dates: ClosedDates | UnsetType = UNSET
    allowed_categories: Categories | UnsetType = UNSET
    carriageway: bool | UnsetType = UNSET
    min_clearance_m: ClearanceM | UnsetType | None = UNSET
    sidewalk_width_m: WidthM | UnsetType | None = UNSET
    capacity: Capacity | UnsetType | None = UNSET
    designation: Designation | UnsetType | None = UNSET
    joint_approval: JointApproval | UnsetType | None = UNSET
    coordinate_system: CoordinateSystem = "wgs84"
    reason: Reason | None = None


class ChangeStatus(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`suspended` and `closed` need a `reason`; a suspension may name `until`; without `from`, from now."""

    status: PlaceStatus
    reason: Reason | None = None
    status_from: Instant | None = msgspec.field(default=None, name="from")
    until: Instant | None = None


class VenueOut(msgspec.Struct, kw_only=True):
    """A venue; `current_status` is its status now (a suspension counts from `status_from` to `status_until`)."""

    id: uuid.UUID
    name: str
    kind: VenueKind
    jurisdiction_code: str
    geometry: Area
    area_m2: float
    schedule: list[Window]
    closed_dates: list[dt.date]
    valid_from: dt.date
    valid_to: dt.date | None
    allowed_categories: list[Category]
    carriageway: bool
    min_clearance_m: float | None
    sidewalk_width_m: float | None
    capacity: int | None
    designation: Designation | None
    designation_status: DesignationStatus | None
    joint_approval: JointApproval | None
    road_requests: RoadRequests | None
    status: PlaceStatus
    current_status: PlaceStatus
    status_reason: str | None
    status_from: dt.datetime | None
    status_until: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


# --- the map --------------------------------------------------------------------------------------------------

MapLayer = Literal["venue", "pitch", "restricted_feature", "buffer"]
PitchMapStatus = venue_map.PitchMapStatus


class VenueProperties(msgspec.Struct, kw_only=True, tag="venue", tag_field="layer"):
    name: str
    kind: VenueKind
    status: PlaceStatus
    designation_status: DesignationStatus | None
    road_requests: RoadRequests | None
    allowed_categories: list[Category]


class PitchProperties(msgspec.Struct, kw_only=True, tag="pitch", tag_field="layer"):
    """`status` today: allocated when a held allocation's term covers today."""

    label: str
    status: PitchMapStatus
    area_m2: float


class RestrictedFeatureProperties(msgspec.Struct, kw_only=True, tag="restricted_feature", tag_field="layer"):
    """`buffer_m`: the distance a pitch of this venue must keep (its categories'), 0 where overlap alone counts."""

    kind: FeatureKind
    name: str | None
    buffer_m: float
    overlap_forbidden: bool


class BufferProperties(msgspec.Struct, kw_only=True, tag="buffer", tag_field="layer"):
    """The area within `buffer_m` of a restricted feature, where no pitch of this venue may reach."""

    feature_id: uuid.UUID
    kind: FeatureKind
    buffer_m: float


MapProperties = VenueProperties | PitchProperties | RestrictedFeatureProperties | BufferProperties


class MapFeature(msgspec.Struct, kw_only=True, tag="Feature", tag_field="type"):
    """A GeoJSON Feature; `properties.layer` says what it shows."""

    id: str
    geometry: Geometry
    properties: MapProperties


class VenueMapOut(msgspec.Struct, kw_only=True, tag="FeatureCollection", tag_field="type"):
    """A GeoJSON FeatureCollection (RFC 7946): the venue, its pitches, restricted features near it and their
    buffers, in that order."""

    features: list[MapFeature]


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def venue_out(venue: Venue, *, now: dt.datetime, today: dt.date) -> VenueOut:
    return VenueOut(
        id=venue.id,
        name=venue.name,
        kind=venue.kind,  # type: ignore[arg-type]  # CHECK kind_known
        jurisdiction_code=venue.jurisdiction_code,
        geometry=msgspec.convert(venue.geometry, Area),
        area_m2=venue.area_m2,
        schedule=[msgspec.convert(window, Window) for window in venue.schedule],
        closed_dates=list(venue.closed_dates or []),
        valid_from=venue.valid_from,
        valid_to=venue.valid_to,
        allowed_categories=list(venue.allowed_categories),  # type: ignore[arg-type]  # CHECK categories_known
        carriageway=venue.is_carriageway,
        min_clearance_m=venue.min_clearance_m,
        sidewalk_width_m=venue.sidewalk_width_m,
        capacity=venue.capacity,
        designation=service.designation_of(venue),
        designation_status=service.designation_status(venue),
        joint_approval=service.joint_approval_of(venue),
        road_requests=service.road_requests(venue, today),
        status=venue.status,  # type: ignore[arg-type]  # CHECK status_known
        current_status=service.current_status(venue.status, venue.status_from, venue.status_until, now),
        status_reason=venue.status_reason,
        status_from=venue.status_from,
        status_until=venue.status_until,
        version=venue.version,
        created_at=venue.created_at,
        updated_at=venue.updated_at,
    )


def _reply(request: Request[Any, Any, Any], venue: Venue, status_code: int = 200) -> Response[VenueOut]:
    settings = _settings(request)
    headers = etag(venue.version)
    if status_code == 201:
        headers["Location"] = f"/api/v1/venues/{venue.id}"
    return Response(
        venue_out(venue, now=settings.now(), today=settings.today()), status_code=status_code, headers=headers
    )


# The fields of AmendVenue that are the venue plan's own, by the same name (the geometry is read by the service).
_AMENDED_FIELDS = (
    "name",
    "schedule",
    "valid_from",
    "valid_to",
    "closed_dates",
    "allowed_categories",
    "carriageway",
    "min_clearance_m",
    "sidewalk_width_m",
    "capacity",
    "designation",
    "joint_approval",
)

_WHO_MANAGES = (
    "Street offices, for venues of their own jurisdiction (another jurisdiction's venue is a 404 "
    "`venue_not_found`, before If-Match is looked at), and admins; vendors and departments 403."
)

BboxParam = Annotated[
    str | None,
    QueryParameter(
        pattern=service.BBOX_PATTERN,
        max_length=120,
        description="minLon,minLat,maxLon,maxLat (WGS84 degrees): places whose bounding box meets it",
    ),
]


class VenueController(Controller):
    path = "/venues"
    tags = ("venues",)

    @post(
        "/",
        operation_id="establishVenue",
        summary="Establish a venue (street office, in its jurisdiction; admin)",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            "Street offices in their own jurisdiction (naming another jurisdiction is a 404 "
            "`jurisdiction_not_found`, as for one that does not exist) and admins; vendors and departments 403. "
            "The geometry must be a valid Polygon or MultiPolygon (shapely's reason otherwise), at most 1 km², "
            "inside the jurisdiction (422 `outside_jurisdiction`). A `designation` is for designated zones only "
            "and must name a county-level or higher people's government (无证无照经营查处办法 Art. 3: a street "
            "office, town or township cannot designate), dated not in the future; without one a designated zone "
            "is `proposed`. `joint_approval`, `carriageway`, `sidewalk_width_m` and `min_clearance_m` are for "
            "road zones only; a road zone approves requests at once (`road_requests: approved_at_once`) only on "
            "a sidewalk with an unexpired joint approval. Each broken rule is a 422 `validation_failed` naming "
            "the field. Answers 201 with Location and ETag; the venue is at revision 1."
        ),
        opt={PROBLEMS_OPT: (JurisdictionNotFound, GeometryOutsideJurisdiction)},
        response_headers=[ETAG_HEADER],
    )
    async def establish_venue(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EstablishVenue],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[VenueOut]:
        settings = _settings(request)
        plan = service.VenuePlan(
            name=data.name,
            kind=data.kind,
            jurisdiction_code=data.jurisdiction_code,
            shape=None,
            schedule=data.schedule,
            closed_dates=data.closed_dates,
            valid_from=data.valid_from,
            valid_to=data.valid_to,
            allowed_categories=data.allowed_categories,
            carriageway=data.carriageway,
            min_clearance_m=data.min_clearance_m,
            sidewalk_width_m=data.sidewalk_width_m,
            capacity=data.capacity,
            designation=data.designation,
            joint_approval=data.joint_approval,
        )
        venue = await service.establish_venue(
            session,
            principal,
            plan,
            geometry=data.geometry,
            coordinate_system=data.coordinate_system,
            now=settings.now(),
            today=settings.today(),
        )
        return _reply(request, venue, 201)

    @get(
        "/",
        operation_id="listVenues",
        summary="List venues (anyone)",
        description=(
            "Anyone. Venues oldest first, a page at a time, by `jurisdiction_code`, `kind` and `bbox` "
            "(minLon,minLat,maxLon,maxLat: places whose bounding box meets it). A bbox that is not four numbers "
            "with longitudes in [-180, 180] and latitudes in [-90, 90] is a 400 `invalid_parameter`; one with a "
            "minimum above its maximum a 422 `validation_failed`, both naming `bbox`."
        ),
        opt={PROBLEMS_OPT: (InvalidInput,)},
    )
    async def list_venues(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        jurisdiction_code: Annotated[
            str | None, QueryParameter(pattern=r"^[0-9]{12}$", description="12-digit division code")
        ] = None,
        kind: Annotated[VenueKind | None, QueryParameter(description="The kind of venue")] = None,
        bbox: BboxParam = None,
    ) -> Page[VenueOut]:
        settings = _settings(request)
        page = await service.list_venues(
            session,
            limit=limit,
            cursor=cursor,
            jurisdiction_code=jurisdiction_code,
            kind=kind,
            bbox=service.parse_bbox(bbox) if bbox is not None else None,
        )
        now, today = settings.now(), settings.today()
        return page_of([venue_out(venue, now=now, today=today) for venue in page.items], page)

    @get(
        "/{venue_id:uuid}",
        operation_id="getVenue",
        summary="One venue, with its ETag (anyone)",
        description="Anyone. One venue with its ETag (its revision), which edits send back in If-Match; 404 "
        "`venue_not_found`.",
        opt={PROBLEMS_OPT: (VenueNotFound,)},
        response_headers=[ETAG_HEADER],
    )
    async def get_venue(
        self, request: Request[Any, Any, Any], venue_id: FromPath[uuid.UUID], session: DbSession
    ) -> Response[VenueOut]:
        return _reply(request, await service.get_venue(session, venue_id))

    @patch(
        "/{venue_id:uuid}",
        operation_id="amendVenue",
        summary="Amend a venue (If-Match)",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            f"{_WHO_MANAGES} Send the venue's ETag in If-Match (absent 428, stale 412). Only the fields sent "
            "change; the venue is checked again as a whole, with the same refusals as when it was established "
            "(422 `validation_failed` naming the field, 422 `outside_jurisdiction`). Makes a new revision."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (VenueNotFound, GeometryOutsideJurisdiction)},
        response_headers=[ETAG_HEADER],
    )
    async def amend_venue(
        self,
        request: Request[Any, Any, Any],
        venue_id: FromPath[uuid.UUID],
        data: JSONBody[AmendVenue],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[VenueOut]:
        settings = _settings(request)
        changes = {name: getattr(data, name) for name in _AMENDED_FIELDS if getattr(data, name) is not UNSET}
        venue = await service.amend_venue(
            session,
            principal,
            venue_id,
            changes,
            geometry=None if isinstance(data.geometry, UnsetType) else data.geometry,
            coordinate_system=data.coordinate_system,
            precondition=precondition,
            reason=data.reason,
            now=settings.now(),
            today=settings.today(),
        )
        return _reply(request, venue)

    @post(
        "/{venue_id:uuid}/status",
        operation_id="changeVenueStatus",
        summary="Open, suspend or close a venue (If-Match)",
        status_code=200,
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            f"{_WHO_MANAGES} Send the venue's ETag in If-Match (absent 428, stale 412). `suspended` and `closed` "
            "need a `reason` (free text); a suspension may end at `until`; without `from` the change starts now. "
            "A closed venue takes no new pitches, applications or road requests. Broken rules are a 422 "
            "`validation_failed` naming the field. Makes a new revision."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (VenueNotFound,)},
        response_headers=[ETAG_HEADER],
    )
    async def change_venue_status(
        self,
        request: Request[Any, Any, Any],
        venue_id: FromPath[uuid.UUID],
        data: JSONBody[ChangeStatus],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[VenueOut]:
        settings = _settings(request)
        venue = await service.change_venue_status(
            session,
            principal,
            venue_id,
            status=data.status,
            reason=data.reason,
            status_from=data.status_from,
            until=data.until,
            precondition=precondition,
            now=settings.now(),
        )
        return _reply(request, venue)

    @get(
        "/{venue_id:uuid}/map",
        operation_id="getVenueMap",
        summary="The venue's map: a GeoJSON FeatureCollection (anyone)",
        media_type="application/geo+json",
        description=(
            "Anyone. A GeoJSON FeatureCollection (application/geo+json): the venue, its pitches with their "
            "status today (`allocated` when a held allocation covers today), the restricted features near it "
            "with the buffer a pitch of this venue must keep, and each buffer's area. 404 `venue_not_found`."
        ),
        opt={PROBLEMS_OPT: (VenueNotFound,)},
    )
    async def get_venue_map(
        self, request: Request[Any, Any, Any], venue_id: FromPath[uuid.UUID], session: DbSession
    ) -> VenueMapOut:
        settings = _settings(request)
        contents = await venue_map.venue_map(session, venue_id, now=settings.now(), today=settings.today())
        return map_out(contents, today=settings.today())


def map_out(contents: venue_map.MapContents, *, today: dt.date) -> VenueMapOut:
    venue = contents.venue
    features = [
        MapFeature(
            id=f"venue/{venue.id}",
            geometry=msgspec.convert(venue.geometry, Geometry),
            properties=VenueProperties(
                name=venue.name,
                kind=venue.kind,  # type: ignore[arg-type]
                status=contents.venue_status,
                designation_status=service.designation_status(venue),
                road_requests=service.road_requests(venue, today),
                allowed_categories=list(venue.allowed_categories),  # type: ignore[arg-type]
            ),
        )
    ]
    features += [
        MapFeature(
            id=f"pitch/{pitch.id}",
            geometry=pitch.geometry,
            properties=PitchProperties(label=pitch.label, status=pitch.status, area_m2=pitch.area_m2),
        )
        for pitch in contents.pitches
    ]
    for near in contents.features:
        feature = near.feature
        features.append(
            MapFeature(
                id=f"restricted-feature/{feature.id}",
                geometry=msgspec.convert(feature.geometry, Geometry),
                properties=RestrictedFeatureProperties(
                    kind=feature.kind,  # type: ignore[arg-type]
                    name=feature.name,
                    buffer_m=near.buffer_m,
                    overlap_forbidden=near.overlap_forbidden,
                ),
            )
        )
    features += [
        MapFeature(
            id=f"buffer/{near.feature.id}",
            geometry=near.buffer,
            properties=BufferProperties(
                feature_id=near.feature.id,
                kind=near.feature.kind,  # type: ignore[arg-type]
                buffer_m=near.buffer_m,
            ),
        )
        for near in contents.features
        if near.buffer is not None
    ]
    return VenueMapOut(features=features)
