"""POST/GET /jurisdictions."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import requires
from core.coords import area_from_gcj02
from core.deps import DbSession
from core.geojson import Area, CoordinateSystem, check_area, to_builtins
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from registry import jurisdictions as service
from registry.api.params import JurisdictionCode
from registry.errors import JurisdictionExists, JurisdictionNotFound


class EstablishJurisdiction(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: JurisdictionCode
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    boundary: Area
    parent_code: JurisdictionCode | None = None
    coordinate_system: CoordinateSystem = "wgs84"


class JurisdictionOut(msgspec.Struct, kw_only=True):
    code: str
    name: str
    parent_code: str | None
    boundary: dict[str, Any]


class JurisdictionController(Controller):
    path = "/jurisdictions"
    tags = ["jurisdictions"]

    @post(
        "/",
        operation_id="establishJurisdiction",
        summary="Establish a jurisdiction (admin)",
        security=[{"bearer": []}],
        guards=[requires("admin")],
        description=(
            "Admins only. Establishes a jurisdiction from its 12-digit division code, its name and its boundary "
            "(a GeoJSON Polygon or MultiPolygon in WGS84, or GCJ-02 with `coordinate_system: gcj02`). Refuses a "
            "code already established (409 `jurisdiction_exists`), and an unknown `parent_code`, a blank name or "
            "an invalid boundary (422 `validation_failed`, naming the field)."
        ),
        opt={PROBLEMS_OPT: (JurisdictionExists,)},
    )
    async def establish(self, data: JSONBody[EstablishJurisdiction], session: DbSession) -> Response[JurisdictionOut]:
        boundary = data.boundary
        if data.coordinate_system == "gcj02":
            boundary = area_from_gcj02(boundary)
        shape = check_area(boundary, "boundary")
        jurisdiction = await service.establish_jurisdiction(
            session,
            code=data.code,
            name=data.name,
            boundary=to_builtins(boundary),
            shape=shape,
            parent_code=data.parent_code,
        )
        out = msgspec.convert(jurisdiction, JurisdictionOut, from_attributes=True)
        return Response(out, status_code=201, headers={"Location": f"/api/v1/jurisdictions/{jurisdiction.code}"})

    @get(
        "/",
        operation_id="listJurisdictions",
        summary="List jurisdictions",
        description=(
            "Anyone. Jurisdictions in code order, a page at a time, optionally only the children of `parent_code`."
        ),
    )
    async def list_jurisdictions(
        self,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        parent_code: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{12}$")] = None,
    ) -> Page[JurisdictionOut]:
        page = await service.list_jurisdictions(session, limit=limit, cursor=cursor, parent_code=parent_code)
        return page_of([msgspec.convert(row, JurisdictionOut, from_attributes=True) for row in page.items], page)

    @get(
        "/{code:str}",
        operation_id="getJurisdiction",
        summary="One jurisdiction",
        description=("Anyone. One jurisdiction by its division code, with its boundary; 404 `jurisdiction_not_found`."),
        opt={PROBLEMS_OPT: (JurisdictionNotFound,)},
    )
    async def get_jurisdiction(self, code: FromPath[str], session: DbSession) -> JurisdictionOut:
        return msgspec.convert(await service.get_jurisdiction(session, code), JurisdictionOut, from_attributes=True)
