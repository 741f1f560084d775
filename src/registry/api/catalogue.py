"""GET /activities, /departments, /permit-types: the public, versioned reference lists.

The lists change only with a new data file, so their JSON is encoded once per process and served as bytes,
with the file's digest as a strong ETag (a client's If-None-Match gets 304).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from registry import catalogue
from registry.catalogue import ActivityListOut, ActivityOut, Category, DepartmentListOut, PermitTypeListOut

_CACHE_CONTROL = "public, max-age=300"


def _reference(request: Request[Any, Any, Any], body: bytes) -> Response[bytes]:
    etag = f'"{catalogue.load_catalogue().digest[:32]}"'
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


class CatalogueController(Controller):
    path = "/"
    tags = ["catalogue"]

    @get(
        "/activities",
        summary="The activity catalogue: categories, permits each needs and from whom, stall rules",
        responses={200: ResponseSpec(ActivityListOut, description="Every activity, in catalogue order")},
    )
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        category: Annotated[Category | None, QueryParameter(description="Only this category")] = None,
    ) -> Response[bytes]:
        if category is None:
            return _reference(request, catalogue.activity_list_json())
        full = catalogue.activity_list()
        chosen = ActivityListOut(items=[a for a in full.items if a.category == category], version=full.version)
        return _reference(request, msgspec.json.encode(chosen))

    @get("/activities/{code:str}", summary="One activity")
    async def get_activity(self, code: FromPath[str]) -> ActivityOut:
        return catalogue.to_activity_out(catalogue.load_catalogue().activity(code))

    @get(
        "/departments",
        summary="Departments that review permits",
        responses={200: ResponseSpec(DepartmentListOut, description="Every department")},
    )
    async def list_departments(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return _reference(request, catalogue.department_list_json())

    @get(
        "/permit-types",
        summary="Permit types, their departments and time limits",
        responses={200: ResponseSpec(PermitTypeListOut, description="Every permit type")},
    )
    async def list_permit_types(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return _reference(request, catalogue.permit_type_list_json())
