"""Named components and examples the generated OpenAPI schema lacks, added once for every domain.

- Enums: inline Literal enums become `$ref`s to one named component each (`name_enums`), so generated clients
  name them (KeyGroup, not `..._group_type_2_type_1`); the values stay in the code's Literal.
- Generic components get names a client can live with (`Page[ClaimOut]` → `ClaimPage`).
- Examples: whole-object examples from typed Struct instances (`add_examples`), so an example that no longer
  fits its type fails mypy or the contract test; pages compose theirs from their items'.

`core.openapi` documents operations (problems, headers, If-Match); this module shapes the components.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, get_args

import msgspec
from litestar.openapi.spec import (
    Example,
    OpenAPI,
    Operation,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from core.auth import Role, StaffRole
from core.geojson import CoordinateSystem
from core.pagination import Page

# Enums of core types; each domain adds its own (registry.api.NAMED_ENUMS).
CORE_ENUMS: dict[str, Any] = {"Role": Role, "StaffRole": StaffRole, "CoordinateSystem": CoordinateSystem}


# --- named enums ----------------------------------------------------------------------------------------------


def name_enums(schema: OpenAPI, enums: Mapping[str, Any]) -> None:
    """Replace every inline enum by a `$ref` to its named component (`enums`: name → Literal type).

    An enum is recognised by its set of values; a nullable one becomes `oneOf: [$ref, null]`. An enum no
    entry names stays inline (the contract test refuses that).
    """
    by_values: dict[frozenset[Any], str] = {}
    for name, literal in enums.items():
        values = frozenset(get_args(literal))
        if values in by_values:
            # Recognised by values, two enums with the same ones cannot be told apart: name one of them.
            raise ValueError(f"enums {by_values[values]} and {name} have the same values")
        by_values[values] = name
    components = schema.components.schemas if schema.components.schemas is not None else {}
    # Named already (a second pass): set aside so it is not replaced by a $ref to itself, and kept.
    used: set[str] = {name for name in enums if components.pop(name, None) is not None}

    def replace(node: Schema) -> Schema | Reference:
        if node.enum is None:
            return node
        values = [value for value in node.enum if value is not None]
        name = by_values.get(frozenset(values))
        if name is None:
            return node
        used.add(name)
        ref = Reference(ref=f"#/components/schemas/{name}")
        types = node.type if isinstance(node.type, list) else [node.type]
        if None in node.enum or OpenAPIType.NULL in types:
            return Schema(one_of=[ref, Schema(type=OpenAPIType.NULL)], description=node.description)
        return ref

    _rewrite_schemas(schema, replace)
    for name, literal in enums.items():
        if name in used:
            components[name] = Schema(type=OpenAPIType.STRING, enum=list(get_args(literal)), title=name)
    schema.components.schemas = dict(sorted(components.items()))


def _rewrite_schemas(root: Any, replace: Callable[[Schema], Schema | Reference]) -> None:
    """Apply `replace` to every Schema below `root` (spec objects, lists and dicts), depth first."""
    seen: set[int] = set()

    def visit(value: Any) -> Any:
        if isinstance(value, Schema):
            value = replace(value)
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, list):
            return [visit(child) for child in value]
        if isinstance(value, dict):
            for key, child in value.items():
                value[key] = visit(child)
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                child = getattr(value, field.name)
                if isinstance(child, (list, dict)) or dataclasses.is_dataclass(child):
                    setattr(value, field.name, visit(child))
        return value

    visit(root)


# Litestar names a generic Struct's component after its parameter's import path: Page_registry.api.claims.ClaimOut_.
_GENERIC_NAME = re.compile(r"^(?P<generic>[A-Za-z]+)_(?:[\w]+\.)*(?P<argument>[A-Za-z]+)_$")


def name_generic_components(schema: OpenAPI) -> None:
    """Give generic components a name a client can live with: `Page[ClaimOut]` becomes `ClaimPage`."""
    components = schema.components.schemas or {}
    renamed: dict[str, str] = {}
    for name in list(components):
        match = _GENERIC_NAME.match(name)
        if match is None:
            continue
        new = match.group("argument").removesuffix("Out") + match.group("generic")
        if new in components or new in renamed.values():
            raise ValueError(f"{name} and another component would both be named {new}")
        renamed[name] = new
        components[name].title = new
    if not renamed:
        return
    schema.components.schemas = {renamed.get(name, name): component for name, component in components.items()}
    for node in _spec_nodes(schema):
        if isinstance(node, Reference) and node.value in renamed:
            node.ref = f"#/components/schemas/{renamed[node.value]}"


def _spec_nodes(root: Any) -> Iterator[Any]:
    """Every spec object below `root`, each once."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield value
            pending.extend(getattr(value, field.name) for field in dataclasses.fields(value))


# --- components from msgspec types, and examples --------------------------------------------------------------


def add_struct_components(schema: OpenAPI, types: Sequence[type[msgspec.Struct]]) -> list[Reference]:
    """Add components for Structs no handler names in its signature (msgspec's JSON schema, converted)."""
    refs, definitions = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    components = schema.components.schemas if schema.components.schemas is not None else {}
    for name, definition in definitions.items():
        converted = schema_from_json(definition)
        if isinstance(converted, Schema):
            components.setdefault(name, converted)
    schema.components.schemas = components
    return [Reference(ref=ref["$ref"]) for ref in refs]


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_KEYWORDS = {"not": "schema_not", "if": "schema_if", "else": "schema_else"}


def schema_from_json(node: Mapping[str, Any]) -> Schema | Reference:
    """A JSON Schema dict (as msgspec writes it) as Litestar's spec objects, so later passes can edit it."""
    if "$ref" in node:
        return Reference(ref=node["$ref"])
    kwargs: dict[str, Any] = {}
    for key, value in node.items():
        attribute = _KEYWORDS.get(key) or _CAMEL.sub("_", key).lower()
        if key in ("properties", "patternProperties", "dependentSchemas"):
            value = {name: schema_from_json(child) for name, child in value.items()}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            value = [schema_from_json(child) for child in value]
        elif isinstance(value, Mapping) and key in ("items", "additionalProperties", "not", "contains"):
            value = schema_from_json(value)
        elif key == "type":
            value = [OpenAPIType(t) for t in value] if isinstance(value, list) else OpenAPIType(value)
        elif key == "format":
            value = OpenAPIFormat(value) if value in OpenAPIFormat._value2member_map_ else value
        elif key == "description":
            value = inspect.cleandoc(value)
        kwargs[attribute] = value
    return Schema(**kwargs)


def add_examples(schema: OpenAPI, examples: Iterable[msgspec.Struct]) -> None:
    """Give each Struct's component a whole-object example, then pages theirs, and show them on operations.

    The examples are instances of the Structs themselves, so they are type-checked and decoded in tests.
    """
    components = schema.components.schemas or {}
    for example in examples:
        name = type(example).__name__
        target = components.get(name)
        if not isinstance(target, Schema):
            raise LookupError(f"no component schema {name} for its example")
        # The Struct itself, not a dict: Litestar drops None from dicts it renders, and the nulls are part of
        # the example (`decision_reason: null`); msgspec encodes the Struct when the schema is served.
        target.examples = [example]
    for target in components.values():
        if isinstance(target, Schema) and target.examples is None:
            composed = _composed_example(target, components)
            if composed is not None:
                target.examples = [composed]
    for item in (schema.paths or {}).values():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if not isinstance(operation, Operation):
                continue
            bodies = [getattr(operation.request_body, "content", None) or {}]
            bodies += [getattr(response, "content", None) or {} for response in (operation.responses or {}).values()]
            for content in bodies:
                for media in content.values():
                    value = _example_of(media.schema, components)
                    if value is not None and media.examples is None:
                        media.examples = {"example": Example(value=value)}


def _example_of(node: Schema | Reference | None, components: Mapping[str, Schema | Reference]) -> Any:
    if isinstance(node, Reference):
        target = components.get(node.value)
        return target.examples[0] if isinstance(target, Schema) and target.examples else None
    return None


def _composed_example(target: Schema, components: Mapping[str, Schema | Reference]) -> Page[Any] | None:
    """A page's example from its items' (`{items: [example], next_cursor: null}`)."""
    if target.properties is None or set(target.properties) != {"items", "next_cursor"}:
        return None
    items = target.properties["items"]
    item = _example_of(items.items, components) if isinstance(items, Schema) else None
    return None if item is None else Page(items=[item], next_cursor=None)
