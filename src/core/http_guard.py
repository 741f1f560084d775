"""One place where hostile or malformed requests are refused before any handler or database work.

Litestar's defaults measured in RELIABILITY.md §2 let several inputs through as 500s or silent coercion:
invalid UTF-8, deeply nested JSON, JSON sent as text/plain, NUL characters, repeated query parameters and
lax type coercion ("1" accepted for an int). The ASGI middleware handles what needs no route knowledge;
the before-request hook decodes JSON bodies strictly against the handler's declared type.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from core.errors import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    InvalidInput,
    InvalidParameter,
    MalformedJson,
    ProblemOut,
    field_error_from_msgspec,
)

_BODY_METHODS = {b"POST", b"PUT", b"PATCH", "POST", "PUT", "PATCH"}
_ALLOWED_MEDIA_TYPES = ("application/json", "multipart/form-data")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes, limit: int) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings are skipped).

    Nesting can be no deeper than the number of opening brackets, so most bodies need no scan at all.
    """
    openings = body.count(b"[") + body.count(b"{")
    if openings <= limit:
        return openings
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string containing NUL (PostgreSQL text cannot hold it)."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(item, f"{path}.{key}" if path else str(key)) or (
                (f"{path}.{key}" if path else str(key)) if "\x00" in str(key) else None
            )
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _media_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return None


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


def _query_problem(query_string: bytes) -> tuple[str, str] | None:
    """Repeated scalar parameters (parameter pollution) and control characters are refused."""
    if not query_string:
        return None
    try:
        pairs = parse_qsl(query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return ("query", "is not valid UTF-8")
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            return (key, "may be given only once")
        seen.add(key)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key + value):
            return (key, "contains control characters")
    return None


class RequestGuardMiddleware:
    """Refuse wrong content types and polluted query strings with a problem document."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            headers: list[tuple[bytes, bytes]] = list(scope["headers"])
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                body = msgspec.json.encode(refusal)
                await send(
                    {
                        "type": "http.response.start",
                        "status": refusal.status,
                        "headers": [
                            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope, headers: list[tuple[bytes, bytes]]) -> ProblemOut | None:
        path = scope.get("path")
        if scope.get("method") in _BODY_METHODS and _has_body(headers):
            media_type = _media_type(headers)
            if media_type not in _ALLOWED_MEDIA_TYPES and not (media_type or "").endswith("+json"):
                return ProblemOut(
                    type="/problems/unsupported_media_type",
                    title="Send JSON as application/json",
                    status=415,
                    code="unsupported_media_type",
                    detail=f"Content-Type {media_type or '(none)'} is not accepted; use application/json",
                    instance=path,
                )
        query_problem = _query_problem(scope.get("query_string", b""))
        if query_problem is not None:
            field, message = query_problem
            return ProblemOut(
                type="/problems/invalid_parameter",
                title="A parameter is not valid",
                status=400,
                code="invalid_parameter",
                detail=f"{field}: {message}",
                instance=path,
                errors=[FieldError(field, message)],
            )
        return None


class _HandlerContract(msgspec.Struct, frozen=True):
    """What a handler declares it reads: its JSON body type (if any) and its query parameter names."""

    body_type: Any
    query_names: frozenset[str]


# Keyed by id() but holding the handler too, so a freed handler's id cannot be reused for a stale entry.
_contracts: dict[int, tuple[HTTPRouteHandler, _HandlerContract]] = {}
_NOT_QUERY = {"request", "state", "scope", "headers", "cookies", "query", "data", "body", "socket", "self"}
_PATH_NAME = re.compile(r"\{(\w+):")

# A handler that reads a query parameter by hand lists it in opt, e.g. @get(..., opt={QUERY_OPT: ("category",)}).
QUERY_OPT = "query_parameters"


def _contract(handler: HTTPRouteHandler) -> _HandlerContract:
    cached = _contracts.get(id(handler))
    if cached is None or cached[0] is not handler:
        parameters = handler.parsed_fn_signature.parameters
        data = parameters.get("data")
        body_type = data.annotation if data is not None and not _is_multipart(data) else None
        cached = _contracts[id(handler)] = (handler, _HandlerContract(body_type, _query_names(handler)))
    return cached[1]


def _query_names(handler: HTTPRouteHandler) -> frozenset[str]:
    skip = _NOT_QUERY | set(handler.resolve_dependencies()) | set(_PATH_NAME.findall(" ".join(handler.paths)))
    names: set[str] = set(handler.opt.get(QUERY_OPT, ()))
    for name, field in handler.parsed_fn_signature.parameters.items():
        definition = field.kwarg_definition
        kind = type(definition).__name__ if definition is not None else ""
        if name in skip or "Dependency" in kind or "Body" in kind or "Header" in kind or "Cookie" in kind:
            continue
        if getattr(definition, "header", None) or getattr(definition, "cookie", None):
            continue
        names.add(getattr(definition, "name", None) or getattr(definition, "query", None) or name)
    return frozenset(names)


def _is_multipart(parameter: Any) -> bool:
    definition = getattr(parameter, "kwarg_definition", None)
    media_type = getattr(definition, "media_type", None)
    # An enum member's str() is its name, not its value: compare the value.
    return media_type is not None and "multipart" in str(getattr(media_type, "value", media_type)).lower()


def make_strict_body_hook(max_depth: int) -> Any:
    async def strict_request(request: Request[Any, Any, Any]) -> None:
        """Refuse query parameters the handler does not read (a typo, or personal data in a URL), then decode
        the JSON body strictly (no "1" for 1) against the handler's type, with clear field errors."""
        contract = _contract(request.route_handler)
        if request.scope["query_string"]:
            for name in request.query_params:
                if name not in contract.query_names:
                    # Name the parameter, never echo its value: it may be an ID number.
                    raise InvalidParameter(
                        f"{name}: is not a parameter of this endpoint",
                        errors=[FieldError(name, "is not a parameter of this endpoint")],
                    )
        body_type = contract.body_type
        if body_type is None:
            return
        body = await request.body()
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedJson("The body is not valid UTF-8") from None
        if json_depth(body, max_depth) > max_depth:
            raise MalformedJson(f"JSON nested deeper than {max_depth} levels is not accepted")
        try:
            msgspec.json.decode(body, type=body_type, strict=True)
        except msgspec.ValidationError as exc:
            error = field_error_from_msgspec(str(exc))
            raise InvalidInput(f"{error.field}: {error.message}", errors=[error]) from None
        except msgspec.DecodeError as exc:
            raise MalformedJson(f"The body is not valid JSON: {exc}") from None
        if b"\\u0000" in body:
            field = _find_nul(msgspec.json.decode(body)) or "body"
            raise InvalidInput.for_field(field, "must not contain the NUL character")

    return strict_request
