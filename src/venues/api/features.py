"""Restricted features: POST/GET /restricted-features, GET/PATCH /restricted-features/{id}."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import UNSET, UnsetType

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.errors import InvalidInput
from core.geojson import CoordinateSystem, Geometry
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from registry.api.params import JurisdictionCode
from registry.errors import JurisdictionNotFound
from venues import features as service
from venues.api.venues import BboxParam
from venues.errors import GeometryOutsideJurisdiction, RestrictedFeatureNotFound
from venues.features import AffectedPitch
from venues.models import RestrictedFeature
from venues.siting import MAX_BUFFER_M, FeatureKind
from venues.venues import parse_bbox

BufferM = Annotated[
    float,
    msgspec.Meta(ge=0, le=MAX_BUFFER_M, description="Overrides the rules' buffer for this feature (0 to 1000 m)"),
]
FeatureName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
_GEOMETRY_DOC = (
    "A GeoJSON Point (a hydrant, a gate) or Polygon/MultiPolygon (a fire lane, highway land); a line is drawn "
    "as a thin polygon. WGS84, or GCJ-02 with coordinate_system"
)


class RecordRestrictedFeature(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Street offices record in their own jurisdiction (`jurisdiction_code` may be left out); admins name it."""

    kind: FeatureKind
    geometry: Annotated[Geometry, msgspec.Meta(description=_GEOMETRY_DOC)]
    buffer_m: BufferM | None = None
    name: FeatureName | None = None
    jurisdiction_code: JurisdictionCode | None = None
    coordinate_system: CoordinateSystem = "wgs84"


class AmendRestrictedFeature(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Move it, change its kind or name, or its buffer (null: back to the rules' buffer)."""

    kind: FeatureKind | UnsetType = UNSET
    geometry: Annotated[Geometry, msgspec.Meta(description=_GEOMETRY_DOC)] | UnsetType = UNSET
    buffer_m: BufferM | UnsetType | None = UNSET
    name: FeatureName | UnsetType | None = UNSET
    coordinate_system: CoordinateSystem = "wgs84"


class RestrictedFeatureOut(msgspec.Struct, kw_only=True):
    """`buffer_m` null: the rules' buffer for the kind and each venue's categories applies."""

    id: uuid.UUID
    jurisdiction_code: str
    kind: FeatureKind
    name: str | None
    geometry: Geometry
    buffer_m: float | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class RecordedFeatureOut(RestrictedFeatureOut, kw_only=True):
    """The feature as written and the pitches that now fail `clear_of_restricted` against it."""

    affected_pitches: list[AffectedPitch]


def feature_out(feature: RestrictedFeature) -> RestrictedFeatureOut:
    return RestrictedFeatureOut(**_fields(feature))


def _fields(feature: RestrictedFeature) -> dict[str, Any]:
    return {
        "id": feature.id,
        "jurisdiction_code": feature.jurisdiction_code,
        "kind": feature.kind,
        "name": feature.name,
        "geometry": msgspec.convert(feature.geometry, Geometry),
        "buffer_m": feature.buffer_m,
        "version": feature.version,
        "created_at": feature.created_at,
        "updated_at": feature.updated_at,
    }


def _recorded(recorded: service.Recorded, status_code: int) -> Response[RecordedFeatureOut]:
    feature = recorded.feature
    headers = etag(feature.version)
    if status_code == 201:
        headers["Location"] = f"/api/v1/restricted-features/{feature.id}"
    out = RecordedFeatureOut(**_fields(feature), affected_pitches=recorded.affected)
    return Response(out, status_code=status_code, headers=headers)


def _now(request: Request[Any, Any, Any]) -> dt.datetime:
    settings: Settings = request.app.state.settings
    return settings.now()


class RestrictedFeatureController(Controller):
    path = "/restricted-features"
    tags = ("restricted features",)

    @post(
        "/",
        operation_id="recordRestrictedFeature",
        summary="Record a restricted feature; answers with the pitches it now affects",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            "Street offices in their own jurisdiction (naming another is a 404 `jurisdiction_not_found`) and "
            "admins, who must name `jurisdiction_code` (422 `validation_failed` otherwise); vendors and "
            "departments 403. A point must lie in the jurisdiction, an area at least touch it (422 "
            "`outside_jurisdiction`). `buffer_m` (0 to 1000) overrides the rules' buffer for every category. "
            "Answers 201 with Location, ETag and `affected_pitches`: the existing pitches that now fail "
            "`clear_of_restricted` against it, each with its distance and the distance required."
        ),
        opt={PROBLEMS_OPT: (JurisdictionNotFound, GeometryOutsideJurisdiction)},
        response_headers=[ETAG_HEADER],
    )
    async def record_feature(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecordRestrictedFeature],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[RecordedFeatureOut]:
        recorded = await service.record_feature(
            session,
            principal,
            kind=data.kind,
            geometry=data.geometry,
            coordinate_system=data.coordinate_system,
            buffer_m=data.buffer_m,
            name=data.name,
            jurisdiction_code=data.jurisdiction_code,
            now=_now(request),
        )
        return _recorded(recorded, 201)

    @get(
        "/",
        operation_id="listRestrictedFeatures",
        summary="List restricted features (anyone)",
        description=(
            "Anyone (where stalls may not go is public). Oldest first, a page at a time, by `jurisdiction_code`, "
            "`kind` and `bbox` (minLon,minLat,maxLon,maxLat; not four numbers in range 400 "
            "`invalid_parameter`, min above max 422 `validation_failed`, naming `bbox`)."
        ),
        opt={PROBLEMS_OPT: (InvalidInput,)},
    )
    async def list_features(
        self,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        jurisdiction_code: Annotated[
            str | None, QueryParameter(pattern=r"^[0-9]{12}$", description="12-digit division code")
        ] = None,
        kind: Annotated[FeatureKind | None, QueryParameter(description="The kind of feature")] = None,
        bbox: BboxParam = None,
    ) -> Page[RestrictedFeatureOut]:
        page = await service.list_features(
            session,
            limit=limit,
            cursor=cursor,
            jurisdiction_code=jurisdiction_code,
            kind=kind,
            bbox=parse_bbox(bbox) if bbox is not None else None,
        )
        return page_of([feature_out(feature) for feature in page.items], page)

    @get(
        "/{feature_id:uuid}",
        operation_id="getRestrictedFeature",
        summary="One restricted feature, with its ETag (anyone)",
        description="Anyone. One restricted feature with its ETag; 404 `restricted_feature_not_found`.",
        opt={PROBLEMS_OPT: (RestrictedFeatureNotFound,)},
        response_headers=[ETAG_HEADER],
    )
    async def get_feature(self, feature_id: FromPath[uuid.UUID], session: DbSession) -> Response[RestrictedFeatureOut]:
        feature = await service.get_feature(session, feature_id)
        return Response(feature_out(feature), headers=etag(feature.version))

    @patch(
        "/{feature_id:uuid}",
        operation_id="amendRestrictedFeature",
        summary="Move a restricted feature or change its buffer (If-Match); answers with the pitches it affects",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            "Street offices, for features of their own jurisdiction (another's is a 404 "
            "`restricted_feature_not_found`, before If-Match is looked at), and admins; vendors and departments "
            "403. Send the feature's ETag in If-Match (absent 428, stale 412). A moved point must stay in the "
            "jurisdiction (422 `outside_jurisdiction`). Answers with `affected_pitches`, as recording does."
        ),
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (RestrictedFeatureNotFound, GeometryOutsideJurisdiction)},
        response_headers=[ETAG_HEADER],
    )
    async def amend_feature(
        self,
        request: Request[Any, Any, Any],
        feature_id: FromPath[uuid.UUID],
        data: JSONBody[AmendRestrictedFeature],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[RecordedFeatureOut]:
        changes: dict[str, Any] = {}
        if not isinstance(data.kind, UnsetType):
            changes["kind"] = data.kind
        if not isinstance(data.buffer_m, UnsetType):
            changes["buffer_m"] = data.buffer_m
        if not isinstance(data.name, UnsetType):
            changes["name"] = data.name
        recorded = await service.amend_feature(
            session,
            principal,
            feature_id,
            changes,
            geometry=None if isinstance(data.geometry, UnsetType) else data.geometry,
            coordinate_system=data.coordinate_system,
            precondition=precondition,
            now=_now(request),
        )
        return _recorded(recorded, 200)
