"""Say in the OpenAPI schema which characters a request string may hold, as `core.http_guard` enforces it.

Every string of a JSON body and every query or path parameter refuses C0 controls, DEL, bidi controls and
zero-width characters; a free-text field (`core.text.free_text`) also takes line breaks (LF, CR). Litestar
does not carry msgspec's `x-free-text` mark into its schema, so free-text fields are found by walking the
Struct types behind each request body alongside their schemas. Every request string and string parameter
without a pattern (or format, enum, const) of its own then gets the ECMA-262 pattern that says so, which
generated clients and fuzzers read: a fuzzer would otherwise take a string holding U+0000 for valid input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPI, Parameter, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

from core.text import FREE_TEXT_MARK

# The characters core.http_guard._FORBIDDEN refuses, written as ECMA-262 (and Python re) escapes.
_CONTROL = r"\u0000-\u001f\u007f"
_INVISIBLE = r"\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff"
# Line breaks (LF U+000A, CR U+000D) are all free text takes beyond other strings.
_CONTROL_BUT_LINE_BREAKS = r"\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f"

TEXT_PATTERN = f"^[^{_CONTROL}{_INVISIBLE}]*$"
FREE_TEXT_PATTERN = f"^[^{_CONTROL_BUT_LINE_BREAKS}{_INVISIBLE}]*$"

# Said in words where a reader meets it; the strict pattern of every other string goes without saying.
_FREE_TEXT_NOTE = "Free text: may hold line breaks."

_BODY_METHODS = ("post", "put", "patch")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def describe_request_text(schema: OpenAPI, app: Litestar) -> None:
    """Give every request string and query/path string parameter the pattern of the characters it takes."""
    components = schema.components.schemas or {}
    bodies = _body_types(app)
    for path, item in (schema.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is None:
                continue
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and parameter.param_in in (ParamType.QUERY, ParamType.PATH):
                    for node in _strings(parameter.schema, components):
                        _restrict(node, TEXT_PATTERN)
            body = operation.request_body if method in _BODY_METHODS else None
            for media in (getattr(body, "content", None) or {}).values():
                if media.schema is None:
                    continue
                body_type = bodies.get((method, path))
                if body_type is not None:
                    for field in _free_text_fields(media.schema, body_type, components):
                        _mark_free_text(field, components)
                for node in list(_nodes(media.schema, components)):
                    _close_keys(node, schema)
                for node in _strings(media.schema, components):
                    _restrict(node, TEXT_PATTERN)


_JSON_VALUE = "JsonValue"


def _json_value() -> Schema:
    """Any JSON value whose strings (keys too) take no forbidden character: what a free-form field holds."""
    ref = Reference(ref=f"#/components/schemas/{_JSON_VALUE}")
    return Schema(
        any_of=[
            Schema(type=OpenAPIType.STRING, pattern=TEXT_PATTERN),
            Schema(type=[OpenAPIType.NUMBER, OpenAPIType.BOOLEAN, OpenAPIType.NULL]),
            Schema(type=OpenAPIType.ARRAY, items=ref),
            Schema(type=OpenAPIType.OBJECT, property_names=Schema(pattern=TEXT_PATTERN), additional_properties=ref),
        ],
        description="Any JSON value; no string in it (nor any key) holds a control, bidi or zero-width character",
    )


def _close_keys(node: Schema, schema: OpenAPI) -> None:
    """An object open to other keys: its keys take the text pattern, and free-form values say theirs."""
    extra = node.additional_properties
    if extra is None or extra is False:
        return
    if node.property_names is None:
        node.property_names = Schema(pattern=TEXT_PATTERN)
    if extra is True or extra == Schema():
        components = schema.components.schemas if schema.components.schemas is not None else {}
        components.setdefault(_JSON_VALUE, _json_value())
        schema.components.schemas = components
        node.additional_properties = Reference(ref=f"#/components/schemas/{_JSON_VALUE}")


def _restrict(node: Schema, pattern: str) -> bool:
    """Set the pattern of a text string that has no stricter constraint of its own (pattern, format, enum)."""
    if node.pattern is not None or node.format is not None or node.enum is not None or node.const is not None:
        return False
    if node.content_media_type is not None or node.content_encoding is not None:
        return False  # bytes (an uploaded file), not text
    node.pattern = pattern
    return True


def _mark_free_text(field: Schema, components: dict[str, Schema]) -> None:
    """A free-text field: its string (or the string alternative of an optional one) takes line breaks."""
    if field.pattern is not None:
        return
    strings = [field] if _is_string(field) else []
    strings += [alt for alt in _not_null([*(field.one_of or ()), *(field.any_of or ())], components) if _is_string(alt)]
    if any([_restrict(node, FREE_TEXT_PATTERN) for node in strings]):
        field.description = f"{field.description} {_FREE_TEXT_NOTE}" if field.description else _FREE_TEXT_NOTE


def _is_string(node: Schema) -> bool:
    kinds = node.type if isinstance(node.type, list) else [node.type]
    return OpenAPIType.STRING in kinds


def _children(node: Schema) -> Iterator[Schema | Reference]:
    yield from (node.properties or {}).values()
    yield from node.one_of or ()
    yield from node.any_of or ()
    yield from node.all_of or ()
    yield from node.prefix_items or ()
    for child in (node.items, node.additional_properties, node.property_names):
        if isinstance(child, (Schema, Reference)):
            yield child


def _resolve(node: Schema | Reference | None, components: dict[str, Schema]) -> Schema | None:
    while isinstance(node, Reference):
        node = components.get(node.ref.rsplit("/", 1)[-1])
    return node


def _nodes(root: Schema | Reference | None, components: dict[str, Schema]) -> Iterator[Schema]:
    """Every schema reachable from `root`, references followed, each once."""
    for node, _ in _walk(root, components):
        yield node


def _strings(root: Schema | Reference | None, components: dict[str, Schema]) -> Iterator[Schema]:
    """Every string schema reachable from `root` that no node above constrains.

    The alternatives of a node that has a pattern of its own (`{"oneOf": [string, null], "pattern": …}`, as
    Litestar writes an optional constrained field) are constrained by it and left out.
    """
    for node, constrained in _walk(root, components):
        if _is_string(node) and not constrained:
            yield node


def _walk(root: Schema | Reference | None, components: dict[str, Schema]) -> Iterator[tuple[Schema, bool]]:
    pending: list[tuple[Schema | Reference | None, bool]] = [(root, False)]
    seen: set[int] = set()
    while pending:
        item, constrained = pending.pop()
        node = _resolve(item, components)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        yield node, constrained
        alternatives = {id(child) for child in (*(node.one_of or ()), *(node.any_of or ()), *(node.all_of or ()))}
        narrowed = constrained or node.pattern is not None or node.enum is not None
        pending.extend((child, narrowed and id(child) in alternatives) for child in _children(node))


def _body_types(app: Litestar) -> dict[tuple[str, str], Any]:
    """The declared type of each operation's request body, keyed like the schema: (method, path)."""
    found: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            for method in handler.http_methods:
                found[(method.lower(), route.path_format)] = data.annotation
    return found


def _free_text_fields(root: Schema | Reference, body_type: Any, components: dict[str, Schema]) -> list[Schema]:
    """The property schemas of `root` that stand for free-text fields of `body_type`."""
    try:
        info = msgspec.inspect.type_info(body_type)
    except (TypeError, ValueError):  # not a type msgspec knows (e.g. a multipart form with an UploadFile)
        return []
    found: list[Schema] = []
    _pair(root, info, components, found, set())
    return found


def _is_free_text(info: msgspec.inspect.Type) -> bool:
    if isinstance(info, msgspec.inspect.Metadata):
        marked = (info.extra or {}).get("free_text") or (info.extra_json_schema or {}).get(FREE_TEXT_MARK)
        return bool(marked) or _is_free_text(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_is_free_text(member) for member in info.types)
    return False


def _members(info: msgspec.inspect.Type) -> list[msgspec.inspect.Type]:
    """A type's alternatives (None aside), through metadata."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _members(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        return [m for member in info.types for m in _members(member)]
    if isinstance(info, msgspec.inspect.NoneType):
        return []
    return [info]


def _not_null(nodes: Iterable[Schema | Reference], components: dict[str, Schema]) -> list[Schema]:
    resolved = [_resolve(node, components) for node in nodes]
    return [node for node in resolved if node is not None and node.type != OpenAPIType.NULL]


_SEQUENCES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)


def _carry_constraints(schema: Schema, info: msgspec.inspect.Type, member: msgspec.inspect.Type) -> None:
    """Copy the bounds msgspec checks onto a schema that lost them.

    Litestar drops the constraints of nested `Annotated` types (a GeoJSON ring's `min_length=4`, a position's
    `ge=-180`), so the schema would promise more than the decoder takes. Only what is missing is filled in.
    """
    if isinstance(info, msgspec.inspect.UnionType):
        return  # the constraints sit on the alternatives, which Litestar keeps
    if isinstance(member, _SEQUENCES):
        if schema.min_items is None and member.min_length is not None:
            schema.min_items = member.min_length
        if schema.max_items is None and member.max_length is not None:
            schema.max_items = member.max_length
    elif isinstance(member, (msgspec.inspect.IntType, msgspec.inspect.FloatType)):
        if schema.minimum is None and schema.exclusive_minimum is None:
            schema.minimum = member.ge
            schema.exclusive_minimum = member.gt
        if schema.maximum is None and schema.exclusive_maximum is None:
            schema.maximum = member.le
            schema.exclusive_maximum = member.lt
        if schema.multiple_of is None and member.multiple_of is not None:
            schema.multiple_of = member.multiple_of
    elif isinstance(member, msgspec.inspect.StrType):
        if schema.min_length is None and member.min_length is not None:
            schema.min_length = member.min_length
        if schema.max_length is None and member.max_length is not None:
            schema.max_length = member.max_length
        if schema.pattern is None and member.pattern is not None:
            schema.pattern = member.pattern


def _pair(
    node: Schema | Reference | None,
    info: msgspec.inspect.Type,
    components: dict[str, Schema],
    found: list[Schema],
    seen: set[tuple[int, int]],
) -> None:
    """Walk a schema and the type it was generated from side by side, collecting free-text fields and
    carrying over the constraints Litestar dropped."""
    schema = _resolve(node, components)
    if schema is None or (id(schema), id(info)) in seen:
        return
    seen.add((id(schema), id(info)))
    members = _members(info)
    alternatives = _not_null([*(schema.one_of or ()), *(schema.any_of or ())], components)
    if alternatives:
        # Litestar keeps the union's order; pair the alternatives only when they line up one to one.
        if len(alternatives) == len(members):
            for alternative, member in zip(alternatives, members, strict=True):
                _pair(alternative, member, components, found, seen)
        return
    if len(members) != 1:
        return
    member = members[0]
    _carry_constraints(schema, info, member)
    if isinstance(member, (msgspec.inspect.StructType, msgspec.inspect.DataclassType)):
        for field in member.fields:
            child = (schema.properties or {}).get(field.encode_name)
            if child is None:
                continue
            if _is_free_text(field.type):
                resolved = _resolve(child, components)
                if resolved is not None:
                    found.append(resolved)
            else:
                _pair(child, field.type, components, found, seen)
    elif isinstance(member, _SEQUENCES) and isinstance(schema.items, (Schema, Reference)):
        _pair(schema.items, member.item_type, components, found, seen)
    elif isinstance(member, msgspec.inspect.DictType) and isinstance(schema.additional_properties, (Schema, Reference)):
        _pair(schema.additional_properties, member.value_type, components, found, seen)
