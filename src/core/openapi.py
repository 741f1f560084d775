"""Document the problem responses every operation can give (Litestar only documents 200/201 and 400)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Parameter, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from core.errors import PROBLEM_MEDIA_TYPE
from core.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN

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
    "400": "Malformed request or invalid parameter",
    "401": "Missing, expired or invalid bearer token",
    "403": "Your role may not do this",
    "404": "No such resource, or not yours to see",
    "409": "Conflicts with the current state",
    "412": "If-Match does not name the current version",
    "428": "If-Match is required",
    "429": "Too many attempts; see Retry-After",
    "413": "Request body too large",
    "415": "Unsupported content type",
    "422": "Invalid field values (or a cursor this service did not issue)",
    "500": "Unexpected error (generic, with a reference)",
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


def add_problem_responses(schema: OpenAPI, extra: Mapping[tuple[str, str], Sequence[str]] | None = None) -> None:
    """Add application/problem+json responses to every operation, by what the operation can meet.

    `extra` names further statuses of particular operations, keyed by (method, path): e.g. the 412/428 of a
    decision that requires If-Match.
    """
    components = schema.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas["Problem"] = _PROBLEM_SCHEMA
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if operation is None or not path.startswith("/api/"):
                continue
            codes = ["400", "500"]
            if operation.security:
                codes += ["401", "403"]
            if "{" in path or operation.security:
                codes.append("404")
            if method in ("post", "put", "patch"):
                codes += ["409", "413", "415", "422"]
            elif any(isinstance(p, Parameter) and p.name == "cursor" for p in operation.parameters or []):
                codes.append("422")  # a cursor shaped right but not signed by us (core.pagination)
            codes += (extra or {}).get((method, path), ())
            responses = operation.responses if operation.responses is not None else {}
            for code in codes:
                # Replace Litestar's own 400 (documented as application/json): every error is a problem.
                responses[code] = OpenAPIResponse(
                    description=_DESCRIPTIONS[code],
                    content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_PROBLEM_REF)},
                )
            operation.responses = responses
            if method == "post":
                operation.parameters = [*(operation.parameters or []), _IDEMPOTENCY_KEY]
