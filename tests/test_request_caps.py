"""Every string and array a request body may carry has a bound in the schema (RELIABILITY.md §3.9, docs/limits.md).

The body limit (1 MB; uploads 5 MB) and the JSON depth limit bound a request as a whole; this walks every
request body schema of the OpenAPI document and fails on a string with no `maxLength` or an array with no
`maxItems`, so a new field cannot go in unbounded. A string is also bounded by an enum or const, a format whose
decoder accepts only short text (date, date-time, time, uuid), or an anchored pattern with no open-ended
repetition (`^[0-9]{12}$`). The exceptions are listed with their reason.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from core.pagination import MAX_LIMIT
from core.settings import Settings
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import make_account

# (schema path, why it needs no bound of its own)
ALLOWED: dict[str, str] = {
    "uploadDocument:UploadDocument.file": "the file's bytes: bounded by the upload's body limit (413)",
}

_BOUNDED_FORMATS = {"date", "date-time", "time", "uuid"}
_OPEN_ENDED = re.compile(r"(?<!\\)[*+]|\{\d+,\}")


def _bounded_pattern(pattern: str | None) -> bool:
    return bool(pattern) and pattern.startswith("^") and pattern.endswith("$") and not _OPEN_ENDED.search(pattern)


def unbounded(schema: dict[str, Any]) -> list[str]:
    """`operationId:path` of every request body string or array with no bound."""
    components = schema["components"]["schemas"]
    found: list[str] = []

    def walk(node: dict[str, Any], path: str, seen: frozenset[str], inherited: dict[str, Any]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], name, seen | {name}, {})
            return
        # A constraint beside oneOf/anyOf (Litestar puts an optional field's there) applies to each branch.
        bounds = {**inherited, **{key: node[key] for key in ("maxLength", "maxItems") if key in node}}
        kinds = node.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "string" in kinds and not (
            "maxLength" in bounds
            or "enum" in node
            or "const" in node
            or node.get("format") in _BOUNDED_FORMATS
            or _bounded_pattern(node.get("pattern"))
        ):
            found.append(path)
        if "array" in kinds and "maxItems" not in bounds:
            found.append(path)
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{key}", seen, {})
        for key in ("oneOf", "anyOf", "allOf"):
            for child in node.get(key) or []:
                walk(child, path, seen, bounds)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]", seen, {})
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*", seen, {})

    for item in schema["paths"].values():
        for method, operation in item.items():
            if method not in ("post", "put", "patch"):
                continue
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                before = len(found)
                walk(media["schema"], "", frozenset(), {})
                found[before:] = [f"{operation['operationId']}:{path}" for path in found[before:]]
    return sorted(set(found))


def test_every_request_string_and_array_is_bounded(app: Litestar) -> None:
    assert [path for path in unbounded(app.openapi_schema.to_schema()) if path not in ALLOWED] == []


def test_the_allowlist_holds_only_what_is_still_unbounded(app: Litestar) -> None:
    assert set(ALLOWED) <= set(unbounded(app.openapi_schema.to_schema()))


def test_the_walk_finds_what_it_should() -> None:
    schema = {
        "components": {
            "schemas": {
                "Body": {
                    "type": "object",
                    "properties": {
                        "free": {"type": "string"},
                        "note": {"oneOf": [{"type": "string"}, {"type": "null"}], "maxLength": 10},
                        "code": {"type": "string", "pattern": "^[0-9]{12}$"},
                        "loose": {"type": "string", "pattern": "^[a-z]+$"},
                        "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "enum": ["a"]}},
                    },
                }
            }
        },
        "paths": {
            "/x": {
                "post": {
                    "operationId": "op",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}},
                }
            }
        },
    }
    assert unbounded(schema) == ["op:Body.free", "op:Body.ids", "op:Body.loose"]


def test_every_list_pages_at_most_200(app: Litestar) -> None:
    limits = [
        (operation["operationId"], parameter["schema"])
        for item in app.openapi_schema.to_schema()["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters") or []
        if parameter["name"] == "limit" and parameter["in"] == "query"
    ]
    assert limits
    for operation_id, schema in limits:
        branches = schema.get("oneOf", [schema])
        assert any(branch.get("maximum") == MAX_LIMIT for branch in branches) or schema.get("maximum") == MAX_LIMIT, (
            operation_id
        )


async def test_a_multipart_body_of_too_many_parts_is_refused_unread(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    vendor = await make_account(session, "vendor")
    parts = {f"extra{n}": "x" for n in range(settings.http.max_multipart_parts)}
    answer = await client.post(
        "/api/v1/documents",
        data=parts,
        files={"file": ("a.png", b"\x89PNG", "image/png")},
        headers=auth_headers(settings, vendor),
    )
    assert_problem(answer, 400, "bad_request")
