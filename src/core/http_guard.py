"""One place where hostile or malformed requests are refused before any handler or database work.

Litestar's defaults measured in RELIABILITY.md §2 let several inputs through as 500s or silent coercion:
invalid UTF-8, deeply nested JSON, JSON sent as text/plain, NUL and other control characters, duplicate
keys, repeated query parameters and lax type coercion ("1" accepted for an int). The before-request hook
`strict_request` refuses them. It runs after the route's guards, so an anonymous caller learns only that it
must authenticate (401), not how its request would have been refused.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import msgspec.inspect as mi
from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.types import Message, Scope

from core.errors import (
    FieldError,
    InvalidInput,
    InvalidParameter,
    MalformedJson,
    UnsupportedMediaType,
    shown,
)
from core.text import is_free_text
from core.validation import body_errors

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


# Characters no string in a JSON body may hold (RELIABILITY.md §4 #16-19): C0 controls and DEL (NUL cannot be
# stored in PostgreSQL text; CR/LF forge log lines; and refusing them closes Python's `$` matching before a
# trailing newline in every `^…$` pattern), bidi overrides and isolates, zero-width characters and the BOM.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff]")
# The same characters as they can appear in a JSON text: escaped (\n, \u001f, \u202E…) or as raw UTF-8
# (raw C0 bytes inside a string are already malformed JSON). Most bodies match nothing and are not walked.
_FORBIDDEN_IN_JSON = re.compile(
    rb"\\(?:[bfnrt]|u(?:00[01][0-9a-fA-F]|007[fF]|200[b-dB-D]|202[a-eA-E]|206[6-9]|[fF][eE][fF][fF]))"
    rb"|\x7f|\xe2\x80[\x8b-\x8d\xaa-\xae]|\xe2\x81[\xa6-\xa9]|\xef\xbb\xbf"
)
_SPACE_BEFORE_COLON = re.compile(rb'"[ \t\r\n]+:')


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# Free text (notes, reasons: `core.text.free_text`) may also hold line breaks; nothing else changes for it.
_FORBIDDEN_IN_FREE_TEXT = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff]")
_INDEX = re.compile(r"\[\d+\]")


def _find_forbidden(value: Any, path: str = "", free_text: frozenset[str] = frozenset()) -> str | None:
    """The path of the first string value or key holding a forbidden character.

    `free_text` holds the paths (list indices written `[]`) of fields where line breaks are allowed.
    """
    if isinstance(value, str):
        pattern = _FORBIDDEN_IN_FREE_TEXT if free_text and _INDEX.sub("[]", path) in free_text else _FORBIDDEN
        return (path or "body") if pattern.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _FORBIDDEN.search(key):
                return _join(path, _printable(key))
            found = _find_forbidden(item, _join(path, key), free_text)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_forbidden(item, f"{path}[{index}]", free_text)
            if found:
                return found
    return None


def free_text_paths(body_type: Any) -> frozenset[str]:
    """The field paths of a body type whose strings are free text (list items written `[]`)."""
    found: set[str] = set()

    def walk(info: mi.Type, path: str, seen: frozenset[type]) -> None:
        if isinstance(info, mi.Metadata):
            if is_free_text(msgspec.Meta(extra=info.extra or {})) and isinstance(info.type, mi.StrType):
                found.add(path)
            walk(info.type, path, seen)
        elif isinstance(info, mi.UnionType):
            for option in info.types:
                walk(option, path, seen)
        elif isinstance(info, mi.StructType) and info.cls not in seen:
            for field in info.fields:
                walk(field.type, _join(path, field.encode_name), seen | {info.cls})
        elif isinstance(info, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            walk(info.item_type, f"{path}[]", seen)
        elif isinstance(info, mi.DictType):
            walk(info.value_type, _join(path, "*"), seen)

    if body_type is not None:
        walk(mi.type_info(body_type), "", frozenset())
    return frozenset(found)


def _printable(text: str) -> str:
    """A key as it may appear in a problem document: forbidden characters shown as escapes."""
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _key_count(value: dict[str, Any] | list[Any]) -> int:
    """Keys in all objects of a decoded JSON value (written for speed: this runs on every JSON body)."""
    count = 0
    if type(value) is dict:
        count = len(value)
        items: Any = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            count += _key_count(item)
    return count


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _duplicate_key(body: bytes, decoded: Any) -> str | None:
    """A key given twice in one object (RELIABILITY.md §4 #7): JSON parsers disagree on which copy wins.

    Every key ends in `"` then `:`, so counting `":` bounds the keys sent from above; when that equals the
    keys decoded (duplicates collapse), none was repeated. Only otherwise (or with space before a colon) is
    the body parsed again to find the key: about 1.5 µs for a 200-byte body instead of 4 µs for the parse.
    """
    if type(decoded) not in (dict, list):
        return None
    if not _SPACE_BEFORE_COLON.search(body) and body.count(b'":') == _key_count(decoded):
        return None
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return exc.key
    except ValueError:  # msgspec accepted it; a disagreement here is no duplicate
        return None
    return None


def _unsupported_media_type(multipart: bool) -> UnsupportedMediaType:
    wanted = "multipart/form-data" if multipart else "application/json"
    # The Content-Type sent is not repeated: problem documents never echo what the client submitted.
    return UnsupportedMediaType(f"Send this request's body as {wanted}")


def _media_type(request: Request[Any, Any, Any]) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


def _has_body(request: Request[Any, Any, Any]) -> bool:
    headers = request.headers
    length = headers.get("content-length")
    return (length is not None and length.strip() not in ("0", "")) or "transfer-encoding" in headers


def _check_query(query_string: bytes, known: frozenset[str]) -> None:
    """Refuse undecodable, repeated (parameter pollution), unknown and control-character parameters.

    Unknown ones are a typo, or personal data in a URL: name the parameter, never echo its value.
    """
    try:
        pairs = parse_qsl(query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameter.for_field("query", "is not valid UTF-8") from None
    seen: set[str] = set()
    for key, value in pairs:
        if _FORBIDDEN.search(key):
            raise InvalidParameter.for_field("query", "contains control characters")
        if key in seen:
            raise InvalidParameter.for_field(key, "may be given only once")
        seen.add(key)
        if key not in known:
            raise InvalidParameter.for_field(key, "is not a parameter of this endpoint")
        if _FORBIDDEN.search(value):
            raise InvalidParameter.for_field(key, "contains control characters")


class _HandlerContract(msgspec.Struct, frozen=True):
    """What a handler declares it reads: its JSON body type (if any), whether it takes a multipart upload, and
    its query parameter names."""

    body_type: Any
    multipart: bool
    query_names: frozenset[str]
    free_text: frozenset[str]
    # The body may be left out (`data: JSONBody[X | None] = None`): an empty body is then no body, not bad JSON.
    body_optional: bool = False


_NOT_QUERY = {"request", "state", "scope", "headers", "cookies", "query", "data", "body", "socket", "self"}
_PATH_NAME = re.compile(r"\{(\w+):")

# A handler that reads a query parameter by hand lists it in opt, e.g. @get(..., opt={QUERY_OPT: ("category",)}).
QUERY_OPT = "query_parameters"
# A page people reach by links that others decorate (messaging apps append ?from=…) takes any query string and
# reads what it knows: @get(..., opt={ANY_QUERY_OPT: True}). Never for the API.
ANY_QUERY_OPT = "any_query_string"


# Keyed by id() but holding the handler too, so a freed handler's id cannot be reused for a stale entry. One
# cache per app (the hook's): a module-wide one kept every app a process ever built alive, with its routes and
# OpenAPI schema (a test suite builds one per test; 1,600 of them made exit spend minutes in the collector).
_Contracts = dict[int, tuple[HTTPRouteHandler, _HandlerContract]]


def _contract(contracts: _Contracts, handler: HTTPRouteHandler) -> _HandlerContract:
    cached = contracts.get(id(handler))
    if cached is None or cached[0] is not handler:
        parameters = handler.parsed_fn_signature.parameters
        data = parameters.get("data")
        multipart = data is not None and _is_multipart(data)
        body_type = data.annotation if data is not None and not multipart else None
        contract = _HandlerContract(
            body_type, multipart, _query_names(handler), free_text_paths(body_type), _admits_none(body_type)
        )
        cached = contracts[id(handler)] = (handler, contract)
    return cached[1]


def _admits_none(body_type: Any) -> bool:
    if body_type is None:
        return False
    info = mi.type_info(body_type)
    return isinstance(info, mi.NoneType) or (
        isinstance(info, mi.UnionType) and any(isinstance(item, mi.NoneType) for item in info.types)
    )


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
    contracts: _Contracts = {}

    async def strict_request(request: Request[Any, Any, Any]) -> None:
        """Refuse a control character in the path, a polluted query string and a body of the wrong media type,
        then decode a JSON body strictly (no "1" for 1) against the handler's type, with clear field errors."""
        path: str = request.scope["path"]
        # A percent-encoded NUL in a path parameter would otherwise reach PostgreSQL (and fail there as a 500).
        if not path.isprintable() and _FORBIDDEN.search(path):
            raise InvalidParameter.for_field("path", "contains control characters")
        contract = _contract(contracts, request.route_handler)
        if request.scope["query_string"] and not request.route_handler.opt.get(ANY_QUERY_OPT):
            _check_query(request.scope["query_string"], contract.query_names)
        if contract.multipart:
            if _media_type(request) != "multipart/form-data":
                raise _unsupported_media_type(multipart=True)
            return
        body_type = contract.body_type
        media_type = _media_type(request)
        json_sent = media_type == "application/json" or (media_type or "").endswith("+json")
        if body_type is None:
            # A form is read by hand (the console's sign-in and sign-out); JSON is what an API client sends.
            if request.method in _WRITES and json_sent:
                _refuse_unread_body(await request.body())
            return
        if not json_sent and (media_type is not None or _has_body(request)):
            raise _unsupported_media_type(multipart=False)
        body = await request.body()
        if not body and contract.body_optional:
            return
        _check_json(body, body_type, max_depth, contract.free_text)

    return strict_request


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse_unread_body(body: bytes) -> None:
    """A write that reads no body (a withdrawal, a release) refuses a JSON one that says something (T-A3): a
    field it would silently ignore (`status`, `vendor_id`) must not look accepted. No body, or `{}`, it takes."""
    if not body.strip():
        return
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidInput.for_field("body", "this request takes no body") from None
    if decoded == {}:
        return
    if isinstance(decoded, dict):
        errors = [FieldError(shown(name), "is not a field of this request") for name in decoded]
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    raise InvalidInput.for_field("body", "this request takes no body")


def _check_json(body: bytes, body_type: Any, max_depth: int, free_text: frozenset[str] = frozenset()) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("The body is not valid UTF-8") from None
    if json_depth(body, max_depth) > max_depth:
        raise MalformedJson(f"JSON nested deeper than {max_depth} levels is not accepted")
    try:
        msgspec.json.decode(body, type=body_type, strict=True)
    except msgspec.ValidationError as exc:
        # The typed decoder may stop at a wrong type before it meets malformed JSON further on (`8\x14`).
        try:
            untyped = msgspec.json.decode(body)
        except msgspec.DecodeError as malformed:
            raise MalformedJson(f"The body is not valid JSON: {malformed}") from None
        errors = body_errors(body_type, untyped, exc)
        raise InvalidInput("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors) from None
    except msgspec.DecodeError as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc}") from None
    decoded = msgspec.json.decode(body)
    duplicate = _duplicate_key(body, decoded)
    if duplicate is not None:
        key = _printable(duplicate)
        raise MalformedJson(f"{key}: is given more than once", errors=[FieldError(key, "is given more than once")])
    if _FORBIDDEN_IN_JSON.search(body):
        field = _find_forbidden(decoded, free_text=free_text)
        if field is not None:
            allowed = "" if _INDEX.sub("[]", field) not in free_text else " other than line breaks"
            message = f"must not contain control, bidirectional or zero-width characters{allowed}"
            raise InvalidInput.for_field(field, message)


_NO_STORE = (b"cache-control", b"no-store")


async def no_store_by_default(message: Message, scope: Scope) -> None:
    """Every response not declaring its own Cache-Control gets `no-store`: answers carry personal data, which a
    shared cache or proxy must not keep (RFC 9111 §5.2.2.5).

    A before-send hook rather than the app's `cache_control`: that one reaches only handler responses (not
    problems, nor idempotent replays), and the idempotency layer, which sits between the two, must still see
    a handler's own `no-store` as "do not keep this result".
    """
    if message["type"] == "http.response.start":
        headers = message["headers"]
        for name, _ in headers:
            if name == b"cache-control":
                return
        message["headers"] = [*headers, _NO_STORE]
