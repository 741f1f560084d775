"""GET /activities, /departments, /permit-types: the public, versioned reference lists.

The lists change only with a new data file, so each one's JSON (every ?category= of /activities too) is
encoded once per process and served as bytes, with a strong ETag of those bytes; a client's If-None-Match
gets 304.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Schema
from litestar.openapi.spec import Parameter as OpenAPIParameter
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from core.errors import FieldError, InvalidParameter
from core.http_guard import QUERY_OPT
from core.openapi import PROBLEMS_OPT
from registry import catalogue
from registry.catalogue import CATEGORIES, ActivityListOut, ActivityOut, DepartmentListOut, PermitTypeListOut
from registry.errors import ActivityNotFound

_CACHE_CONTROL = "public, max-age=300"


class _Representation(msgspec.Struct, frozen=True):
    """One list's answers, built once: the 200 with its bytes and the 304, sharing a strong ETag.

    Prebuilt ASGI responses are stateless when sent, so they are reused across requests; building a Litestar
    Response per request was about half the time of this read (measured).
    """

    etag: str
    ok: ASGIResponse
    not_modified: ASGIResponse

    @classmethod
    def of(cls, body: bytes) -> _Representation:
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL}
        return cls(
            etag,
            ASGIResponse(body=body, media_type="application/json", headers=headers),
            ASGIResponse(body=b"", status_code=304, headers=headers),
        )


@functools.cache
def _activities(category: str | None) -> _Representation:
    if category is None:
        return _Representation.of(catalogue.activity_list_json())
    full = catalogue.activity_list()
    chosen = ActivityListOut(items=[a for a in full.items if a.category == category], version=full.version)
    return _Representation.of(msgspec.json.encode(chosen))


@functools.cache
def _departments() -> _Representation:
    return _Representation.of(catalogue.department_list_json())


@functools.cache
def _permit_types() -> _Representation:
    return _Representation.of(catalogue.permit_type_list_json())


def matches_etag(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*`, or any listed tag equal to ours under weak comparison (a `W/` prefix is ignored)."""
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _reference(request: Request[Any, Any, Any], representation: _Representation) -> ASGIResponse:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and matches_etag(if_none_match, representation.etag):
        return representation.not_modified
    return representation.ok


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
        operation_id="listActivities",
        summary="The activity catalogue: categories, permits each needs and from whom, stall rules",
        responses={
            200: ResponseSpec(
                ActivityListOut, description="Every activity, in catalogue order", generate_examples=False
            )
        },
        description=(
            "Anyone. The activity catalogue in catalogue order, optionally one `category`: the permits each "
            "activity needs and from whom, and whether it may be run from a stall. Answers carry a strong ETag "
            "and honour If-None-Match (304)."
        ),
        opt={QUERY_OPT: ("category",)},
    )
    async def list_activities(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        return _reference(request, _activities(_category(request)))

    @get(
        "/activities/{code:str}",
        operation_id="getActivity",
        summary="One activity",
        description=("Anyone. One activity by its code (GET /activities lists them); 404 `activity_not_found`."),
        opt={PROBLEMS_OPT: (ActivityNotFound,)},
    )
    async def get_activity(self, code: FromPath[str]) -> ActivityOut:
        return catalogue.to_activity_out(catalogue.load_catalogue().activity(code))

    @get(
        "/departments",
        operation_id="listDepartments",
        summary="Departments that review permits",
        responses={200: ResponseSpec(DepartmentListOut, description="Every department", generate_examples=False)},
        description=(
            "Anyone. The departments that review permits, with their responsibilities. Answers carry a strong "
            "ETag and honour If-None-Match (304)."
        ),
    )
    async def list_departments(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        return _reference(request, _departments())

    @get(
        "/permit-types",
        operation_id="listPermitTypes",
        summary="Permit types, their departments and time limits",
        responses={200: ResponseSpec(PermitTypeListOut, description="Every permit type", generate_examples=False)},
        description=(
            "Anyone. Permit types, the departments that handle them and their statutory time limits. Answers "
            "carry a strong ETag and honour If-None-Match (304)."
        ),
    )
    async def list_permit_types(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        return _reference(request, _permit_types())
