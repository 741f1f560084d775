"""What the generated OpenAPI schema cannot know by itself, added once for every domain.

- Problems: each operation lists, per status, every problem `code` it can return, with one named example per
  code. Generic ones follow from what the operation meets (a body, a token, path parameters, If-Match);
  a handler names its own refusals with `opt={PROBLEMS_OPT: (VendorExists, ...)}` (the DomainError classes
  its service may raise).
- If-Match: a handler with `opt={IF_MATCH_OPT: True}` gets a required If-Match header and its 412/428.
- Every 201 documents its Location header; `ETAG_HEADER` documents an ETag (`response_headers=[ETAG_HEADER]`).

Named enums, generic component names and examples are `core.openapi_components`'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from litestar import Litestar
from litestar.datastructures import ResponseHeader
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.routes import HTTPRoute
from litestar.types import Method

from core.conditional import IF_MATCH_OPT, IF_MATCH_PATTERN
from core.errors import (
    HTTP_CODES,
    PROBLEM_MEDIA_TYPE,
    CsrfRefused,
    DomainError,
    Forbidden,
    InvalidInput,
    InvalidParameter,
    MalformedJson,
    NotAuthenticated,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnsupportedMediaType,
)
from core.idempotency_keys import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from core.pagination import InvalidCursor

PROBLEMS_OPT = "problems"

ETAG_HEADER = ResponseHeader(
    name="ETag",
    description="The resource's version (a strong validator): send it back in If-Match to decide on it",
    documentation_only=True,
)


class ProblemDoc(NamedTuple):
    """A problem an operation can answer with, as the schema lists it."""

    status: int
    code: str
    title: str

    @classmethod
    def of(cls, problem: type[DomainError] | ProblemDoc) -> ProblemDoc:
        if isinstance(problem, ProblemDoc):
            return problem
        return cls(problem.status, problem.code, problem.title)


_PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="/problems/<code>"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "code": Schema(type=OpenAPIType.STRING, description="Stable snake_case word clients branch on"),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "request_id": Schema(
            type=OpenAPIType.STRING, description="The response's X-Request-ID: quote it when reporting a problem"
        ),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
    description="RFC 9457 problem details",
)

_PROBLEM_REF = Reference(ref="#/components/schemas/Problem")

_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in=ParamType.HEADER,
    required=False,
    description=(
        "Makes a retry safe: a repeat with the same key and body within 24 h returns the first result "
        "(marked Idempotent-Replayed: true); the same key with another body is a 422, and while the first "
        "is still running a 409. Up to 255 printable ASCII characters, scoped to the caller."
    ),
    schema=Schema(type=OpenAPIType.STRING, pattern=IDEMPOTENCY_KEY_PATTERN),
)

_DESCRIPTIONS = {
    400: "Malformed request or invalid parameter",
    401: "Missing, expired or invalid bearer token",
    403: "Your role may not do this",
    404: "No such resource, or not yours to see",
    409: "Conflicts with the current state",
    412: "If-Match does not name the current version",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Invalid field values",
    428: "If-Match is required",
    429: "Too many requests; see Retry-After",
    500: "Unexpected error (generic, with a reference)",
    503: "The service is busy; retry after Retry-After",
}

# Problems that follow from what an operation meets, not from its business rules.
_ANY_OPERATION = (
    InvalidParameter,
    ProblemDoc(500, *HTTP_CODES[500]),
    ProblemDoc(503, *HTTP_CODES[503]),
)
_WITH_JSON_BODY = (MalformedJson,)
_WITH_BODY = (
    ProblemDoc(400, *HTTP_CODES[400]),
    ProblemDoc(413, *HTTP_CODES[413]),
    UnsupportedMediaType,
    InvalidInput,
)
_IDEMPOTENT = (  # core.idempotency, on every POST
    ProblemDoc(400, "invalid_idempotency_key", "The Idempotency-Key header is not valid"),
    ProblemDoc(409, "idempotency_key_in_progress", "A request with this Idempotency-Key is still running"),
    ProblemDoc(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request"),
)
_WITH_TOKEN = (NotAuthenticated, Forbidden)
_WITH_PATH_PARAMETERS = (NotFound,)  # a path that names no resource Litestar can route to
_WITH_IF_MATCH = (PreconditionFailed, PreconditionRequired)

_IF_MATCH = Parameter(
    name="If-Match",
    param_in=ParamType.HEADER,
    required=True,
    description="The ETag from the last read of the resource: absent or `*` is a 428, a stale one a 412",
    schema=Schema(type=OpenAPIType.STRING, pattern=IF_MATCH_PATTERN),
)

_LOCATION = OpenAPIHeader(
    description="Path of the created resource",
    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI_REFERENCE),
    required=True,
)
_REQUEST_ID = OpenAPIHeader(
    description="This request's id, also in problem bodies and the access log (core.request_log)",
    schema=Schema(type=OpenAPIType.STRING),
)
_REQUEST_ID_EXAMPLE = "5f0c2b8e-9a4d-4e1f-0000-00000000a9b2"
_ETAG = OpenAPIHeader(description=ETAG_HEADER.description, schema=Schema(type=OpenAPIType.STRING))
# Headers problems of some statuses carry (core.errors, core.auth, core.idempotency).
_PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": OpenAPIHeader(description="`Bearer`", schema=Schema(type=OpenAPIType.STRING))},
    409: {
        "Retry-After": OpenAPIHeader(
            description="Seconds to wait, when the same Idempotency-Key is still running",
            schema=Schema(type=OpenAPIType.INTEGER),
        )
    },
    412: {"ETag": _ETAG},
    429: {
        "Retry-After": OpenAPIHeader(
            description="Whole seconds to wait (to the end of the limit's window)",
            schema=Schema(type=OpenAPIType.INTEGER),
        )
    },
    503: {"Retry-After": OpenAPIHeader(description="Seconds to wait", schema=Schema(type=OpenAPIType.INTEGER))},
}


def close_request_schemas(schema: OpenAPI) -> None:
    """Mark every object schema a request body uses as `additionalProperties: false`.

    Every input Struct forbids unknown fields (a typo fails loudly), but Litestar does not say so in the
    schema, so generated clients and fuzzers would think extra fields are welcome.
    """
    components = schema.components.schemas or {}
    pending: list[Schema | Reference] = []
    for item in (schema.paths or {}).values():
        for method in ("post", "put", "patch"):
            operation = getattr(item, method, None)
            body = getattr(operation, "request_body", None)
            for media in (getattr(body, "content", None) or {}).values():
                if media.schema is not None:
                    pending.append(media.schema)
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, Reference):
            target = components.get(node.ref.rsplit("/", 1)[-1])
            if target is not None:
                pending.append(target)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.properties is not None and node.additional_properties is None:
            node.additional_properties = False
        for child in (
            *(node.properties or {}).values(),
            *(node.one_of or []),
            *(node.any_of or []),
            *(node.all_of or []),
            *([node.items] if isinstance(node.items, (Schema, Reference)) else []),
        ):
            pending.append(child)


def operation_id_from_name(handler: HTTPRouteHandler, method: Method, path: Sequence[Any]) -> str:
    """The default operationId: the handler's name in camelCase (`list_claims` → `listClaims`).

    Handlers whose function name is not the verb a client should see set `operation_id=` themselves.
    """
    first, *rest = handler.handler_name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def handler_operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler, Operation]]:
    """Every documented operation with the route handler behind it: (method, path, handler, operation)."""
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in paths:
            continue
        item = paths[route.path_format]
        for method, (handler, _) in route.route_handler_map.items():
            operation = getattr(item, method.lower(), None)
            if isinstance(operation, Operation):
                yield method.lower(), route.path_format, handler, operation


# What the app factory adds to a handler's problems from outside it (a rate limit: core.rate_limits).
ExtraProblems = Callable[[HTTPRouteHandler], Sequence[type[DomainError] | ProblemDoc]]


def operation_problems(
    method: str, path: str, handler: HTTPRouteHandler, operation: Operation, extra: ExtraProblems | None = None
) -> list[ProblemDoc]:
    """Every problem an operation can answer with: the generic ones it meets, then the handler's own."""
    problems: list[type[DomainError] | ProblemDoc] = [*_ANY_OPERATION]
    if operation.request_body is not None:
        problems += _WITH_BODY
        if "application/json" in (getattr(operation.request_body, "content", None) or {}):
            problems += _WITH_JSON_BODY
    elif method in ("post", "put", "patch", "delete"):
        problems.append(InvalidInput)  # a JSON body it does not read is refused by name (core.http_guard)
    if method == "post":
        problems += _IDEMPOTENT
    if operation.security:
        problems += _WITH_TOKEN
        if method in ("post", "patch", "put", "delete"):
            # The console's session cookie authenticates these too, and then needs its CSRF proof.
            problems.append(CsrfRefused)
    if "{" in path:
        problems += _WITH_PATH_PARAMETERS
    if handler.opt.get(IF_MATCH_OPT):
        problems += _WITH_IF_MATCH
    if any(isinstance(p, Parameter) and p.name == "cursor" for p in operation.parameters or ()):
        problems.append(InvalidCursor)  # shaped like a cursor, not signed by us (core.pagination)
    problems += handler.opt.get(PROBLEMS_OPT, ())
    if extra is not None:
        problems += extra(handler)
    docs: dict[str, ProblemDoc] = {}
    for problem in problems:
        doc = ProblemDoc.of(problem)
        docs.setdefault(doc.code, doc)
    return sorted(docs.values(), key=lambda doc: doc.status)


def document_operations(app: Litestar, extra: ExtraProblems | None = None) -> None:
    """Problems, If-Match, Location and Idempotency-Key for every operation under /api/, from its handler (and
    `extra`, the problems the app factory adds to some handlers)."""
    schema = app.openapi_schema
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas["Problem"] = _PROBLEM_SCHEMA
    for method, path, handler, operation in handler_operations(app):
        if not path.startswith("/api/"):
            continue
        responses = operation.responses if operation.responses is not None else {}
        by_status: dict[int, list[ProblemDoc]] = {}
        for doc in operation_problems(method, path, handler, operation, extra):
            by_status.setdefault(doc.status, []).append(doc)
        for status, docs in by_status.items():
            # Replaces Litestar's own 400 (documented as application/json): every error is a problem.
            responses[str(status)] = _problem_response(status, docs)
        for answer in responses.values():
            if isinstance(answer, OpenAPIResponse):
                answer.headers = {**(answer.headers or {}), "X-Request-ID": _REQUEST_ID}
        created = responses.get("201")
        if isinstance(created, OpenAPIResponse):
            created.headers = {**(created.headers or {}), "Location": _LOCATION}
        parameters = list(operation.parameters or [])
        if handler.opt.get(IF_MATCH_OPT):
            # The header is read by a dependency (core.conditional), so Litestar does not document it.
            parameters = [p for p in parameters if not (isinstance(p, Parameter) and p.name == "If-Match")]
            parameters.append(_IF_MATCH)
            for answered, answer in responses.items():
                if answered.startswith("2") and isinstance(answer, OpenAPIResponse):
                    answer.headers = {**(answer.headers or {}), "ETag": _ETAG}
        if method == "post":
            parameters.append(_IDEMPOTENCY_KEY)
        operation.parameters = parameters or None
        operation.responses = responses


def _problem_response(status: int, docs: Sequence[ProblemDoc]) -> OpenAPIResponse:
    listed = "; ".join(f"`{doc.code}`: {doc.title}" for doc in docs)
    return OpenAPIResponse(
        description=f"{_DESCRIPTIONS.get(status, 'Refused')}. Codes: {listed}",
        headers=dict(_PROBLEM_HEADERS.get(status, {})) or None,
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(
                schema=_PROBLEM_REF,
                examples={
                    doc.code: Example(
                        summary=doc.title,
                        value={
                            "type": f"/problems/{doc.code}",
                            "title": doc.title,
                            "status": doc.status,
                            "code": doc.code,
                            "detail": doc.title,
                            "request_id": _REQUEST_ID_EXAMPLE,
                        },
                    )
                    for doc in docs
                },
            )
        },
    )


def documented_problems(schema: OpenAPI) -> dict[str, dict[int, set[str]]]:
    """operationId → status → the problem codes the schema lists (what a client can branch on)."""
    found: dict[str, dict[int, set[str]]] = {}
    for item in (schema.paths or {}).values():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation) or operation.operation_id is None:
                continue
            statuses = found.setdefault(operation.operation_id, {})
            for status, response in (operation.responses or {}).items():
                media = (getattr(response, "content", None) or {}).get(PROBLEM_MEDIA_TYPE)
                if media is not None:
                    statuses[int(status)] = set(media.examples or {})
    return found
