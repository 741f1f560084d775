"""GET /activities, /departments, /permit-types: the public, versioned reference lists.

The lists change only with a new data file, so their JSON is encoded once per process and served as bytes,
with the file's digest as a strong ETag (a client's If-None-Match gets 304).
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Schema
from litestar.openapi.spec import Parameter as OpenAPIParameter
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath

from core.errors import FieldError, InvalidParameter
from core.http_guard import QUERY_OPT
from registry import catalogue
from registry.catalogue import CATEGORIES, ActivityListOut, ActivityOut, DepartmentListOut, PermitTypeListOut

_CACHE_CONTROL = "public, max-age=300"


@functools.cache
def _headers() -> dict[str, str]:
    return {"ETag": f'"{catalogue.load_catalogue().digest[:32]}"', "Cache-Control": _CACHE_CONTROL}


def _reference(request: Request[Any, Any, Any], body: bytes) -> Response[bytes]:
    headers = _headers()
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _category(request: Request[Any, Any, Any]) -> str | None:
    """The optional ?category= filter, read by hand: a declared query parameter costs this hot read path
    about a quarter of its time in Litestar's parameter parsing (measured); it is documented in OpenAPI by
    `document_catalogue_parameters`."""
    if not request.scope["query_string"]:
        return None
    category = request.query_params.get("category")
    if category is not None and category not in CATEGORIES:
        message = f"must be one of {', '.join(sorted(CATEGORIES))}"
        raise InvalidParameter(f"category: {message}", errors=[FieldError("category", message)])
    return category


def document_catalogue_parameters(schema: OpenAPI) -> None:
    """Add the hand-read ?category= parameter of GET /activities to the OpenAPI document."""
    item = (schema.paths or {}).get("/api/v1/activities")
    if item is None or item.get is None:
        return
    item.get.parameters = [
        *(item.get.parameters or []),
        OpenAPIParameter(
            name="category",
            param_in=ParamType.QUERY,
            required=False,
            description="Only activities of this category",
            schema=Schema(type=OpenAPIType.STRING, enum=sorted(CATEGORIES)),
        ),
    ]


class CatalogueController(Controller):
    path = "/"
    tags = ["catalogue"]

    @get(
        "/activities",
        opt={QUERY_OPT: ("category",)},
        summary="The activity catalogue: categories, permits each needs and from whom, stall rules",
        responses={200: ResponseSpec(ActivityListOut, description="Every activity, in catalogue order")},
    )
    async def list_activities(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        category = _category(request)
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
