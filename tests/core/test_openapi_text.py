"""The served schema says which characters a request string takes, as core.http_guard enforces (issue 5 §3).

Before core.openapi_text, request strings and query/path parameters had no pattern: schemathesis took a
string holding U+0000 for valid input and counted the guard's refusal as a failure of the service.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar, post
from litestar.params import JSONBody

from core.http_guard import _FORBIDDEN, _FORBIDDEN_IN_FREE_TEXT
from core.idempotency_keys import KEY_PATTERN, parse_key
from core.openapi_text import FREE_TEXT_PATTERN, TEXT_PATTERN, describe_request_text
from core.text import free_text

# Hypothesis keeps its storage (example database, Unicode tables) outside the tree; it reads this when first used.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "flexreg-hypothesis"))

BODY_METHODS = ("post", "put", "patch")


@pytest.fixture
async def served(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def _resolve(node: Any, schema: dict[str, Any], refs: frozenset[str] = frozenset()) -> tuple[Any, frozenset[str]]:
    while isinstance(node, dict) and "$ref" in node:
        if node["$ref"] in refs:
            return None, refs  # a recursive component, walked once already on this branch
        refs = refs | {node["$ref"]}
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node, refs


def _strings(
    node: Any, schema: dict[str, Any], where: str, constrained: bool = False, refs: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Any]]:
    """(location, string schema) for every string reachable from node; alternatives of a node that has its
    own pattern count as constrained by it."""
    node, refs = _resolve(node, schema, refs)
    if not isinstance(node, dict):
        return
    kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
    if "string" in kinds and not constrained:
        yield where, node
    narrowed = constrained or "pattern" in node or "enum" in node
    for keyword in ("oneOf", "anyOf", "allOf"):
        for index, child in enumerate(node.get(keyword, [])):
            yield from _strings(child, schema, f"{where}/{keyword}/{index}", narrowed, refs)
    for name, child in (node.get("properties") or {}).items():
        yield from _strings(child, schema, f"{where}.{name}", refs=refs)
    for keyword in ("items", "additionalProperties"):
        if isinstance(node.get(keyword), dict):
            yield from _strings(node[keyword], schema, f"{where}[{keyword}]", refs=refs)
    if isinstance(node.get("additionalProperties"), dict) or node.get("additionalProperties") is True:
        yield f"{where}[keys]", {"type": "string", **node.get("propertyNames", {})}


def request_strings(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    yield from _strings(parameter["schema"], schema, f"{method} {path} ?{parameter['name']}")
            if method in BODY_METHODS:
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    yield from _strings(media["schema"], schema, f"{method} {path} body")


def _constrained(node: dict[str, Any]) -> bool:
    return any(key in node for key in ("pattern", "format", "enum", "const", "contentMediaType"))


async def test_every_request_string_and_string_parameter_says_which_characters_it_takes(
    served: dict[str, Any],
) -> None:
    found = list(request_strings(served))
    assert len(found) > 20, found
    unsaid = [where for where, node in found if not _constrained(node)]
    assert unsaid == [], "request strings without a pattern"
    patterns = {node["pattern"] for _, node in found if "pattern" in node}
    assert TEXT_PATTERN in patterns
    assert FREE_TEXT_PATTERN in patterns


async def test_free_text_fields_take_line_breaks_and_others_do_not(served: dict[str, Any]) -> None:
    """DecideClaim.reason is free text (core.text.free_text); names and passwords are not."""
    components = served["components"]["schemas"]
    reason = components["DecideClaim"]["properties"]["reason"]
    (text,) = [alt for alt in reason["oneOf"] if alt.get("type") == "string"]
    assert re.fullmatch(text["pattern"], "Documents checked.\r\nIncome proof missing.\n")
    assert not re.fullmatch(text["pattern"], "tab\there")
    assert "line breaks" in reason["description"]
    for name in ("password", "name"):
        pattern = components["RegisterVendor"]["properties"][name]["pattern"]
        assert pattern == TEXT_PATTERN
        assert not re.fullmatch(pattern, "two\nlines")


@pytest.mark.parametrize(
    ("pattern", "guard"), [(TEXT_PATTERN, _FORBIDDEN), (FREE_TEXT_PATTERN, _FORBIDDEN_IN_FREE_TEXT)]
)
def test_patterns_refuse_exactly_what_the_guard_refuses(pattern: str, guard: re.Pattern[str]) -> None:
    compiled = re.compile(pattern)
    disagree = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if (compiled.fullmatch(chr(code)) is None) != bool(guard.search(chr(code)))
    ]
    assert disagree == []
    assert compiled.fullmatch("东城区 Dongcheng 12-3")
    assert compiled.fullmatch("")


async def test_constraints_litestar_drops_are_carried_over(served: dict[str, Any]) -> None:
    """A ring needs 4 positions of 2 bounded numbers: the decoder says so, and now the schema does too."""
    coordinates = served["components"]["schemas"]["Polygon"]["properties"]["coordinates"]
    ring = coordinates["items"]
    position = ring["items"]
    assert (ring["minItems"], ring["maxItems"]) == (4, 5000)
    assert (position["minItems"], position["maxItems"]) == (2, 2)
    assert (position["items"]["minimum"], position["items"]["maximum"]) == (-180, 180)


async def test_the_upload_names_its_file_part_as_required_bytes(served: dict[str, Any]) -> None:
    upload = served["components"]["schemas"]["UploadDocument"]
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"
    assert upload["additionalProperties"] is False


async def test_cursor_and_idempotency_key_have_their_own_patterns(served: dict[str, Any]) -> None:
    lists = served["paths"]["/api/v1/jurisdictions"]["get"]
    (cursor,) = [p for p in lists["parameters"] if p["name"] == "cursor"]
    assert cursor["schema"]["pattern"] != TEXT_PATTERN
    assert "422" in lists["responses"]
    signup = served["paths"]["/api/v1/vendors"]["post"]
    (key,) = [p for p in signup["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["schema"]["pattern"] == KEY_PATTERN


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=260),
        st.text(st.sampled_from(' "!~aZ0-\t\x7fé'), max_size=8),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=255).map(lambda s: f'"{s}"'),
    )
)
def test_idempotency_key_pattern_is_what_parse_key_takes(value: str) -> None:
    value = value.strip(" \t")  # HTTP drops the whitespace around a header value
    try:
        parse_key(value.encode("latin-1"))
        accepted = True
    except ValueError:
        accepted = False
    if value.strip('"') == "00000000-0000-0000-0000-000000000000":
        return  # refused by name, not by shape: the one key the pattern does not exclude
    assert bool(re.fullmatch(KEY_PATTERN, value)) == accepted, value


class _Note(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, free_text(500)]
    title: Annotated[str, msgspec.Meta(max_length=50)]


class _Letter(msgspec.Struct, forbid_unknown_fields=True):
    notes: list[_Note]
    summary: Annotated[str, free_text(100)] | None = None
    tags: dict[str, str] = {}


def test_free_text_is_found_through_lists_optionals_and_references() -> None:
    @post("/letters")
    async def send(data: JSONBody[_Letter]) -> None:
        return None

    app = Litestar([send])
    schema = app.openapi_schema
    describe_request_text(schema, app)
    served = schema.to_schema()
    components = served["components"]["schemas"]
    note = next(value for key, value in components.items() if key.endswith("_Note"))
    letter = next(value for key, value in components.items() if key.endswith("_Letter"))
    assert note["properties"]["text"]["pattern"] == FREE_TEXT_PATTERN
    assert note["properties"]["title"]["pattern"] == TEXT_PATTERN
    summary = [alt for alt in letter["properties"]["summary"]["oneOf"] if alt.get("type") == "string"]
    assert [alt["pattern"] for alt in summary] == [FREE_TEXT_PATTERN]
    assert letter["properties"]["tags"]["additionalProperties"]["pattern"] == TEXT_PATTERN


async def test_schemathesis_generates_from_the_patterns_quickly_and_never_a_refused_character(
    served: dict[str, Any],
) -> None:
    """Positive cases drawn from the served schema hold no character the guard refuses (line breaks only in
    bodies with a free-text field); a pattern the generator cannot draw from would stall here, as in the fuzz."""
    schema = schemathesis.openapi.from_dict(served)
    operations = [result.ok() for result in schema.get_all_operations()]
    seen = 0
    for operation in operations:
        body = served["paths"][operation.path][operation.method.lower()].get("requestBody", {})
        free = FREE_TEXT_PATTERN in _resolved_text(body, served["components"]["schemas"])
        allowed = _FORBIDDEN_IN_FREE_TEXT if free else _FORBIDDEN
        for value in _leaves(_draw(operation)):
            seen += 1
            assert not allowed.search(value), (operation.label, value)
    assert seen > 100


def _resolved_text(schema: Any, components: dict[str, Any], seen: frozenset[str] = frozenset()) -> str:
    """Every scalar of a schema (patterns among them), with its component references followed once per path."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            return "" if name in seen else _resolved_text(components[name], components, seen | {name})
        return "".join(_resolved_text(value, components, seen) for value in schema.values())
    if isinstance(schema, list):
        return "".join(_resolved_text(item, components, seen) for item in schema)
    return f"{schema}\x00"


def _draw(operation: Any) -> list[Any]:
    """Positive cases of one operation, as schemathesis draws them: path parameters, query and body."""
    drawn: list[Any] = []

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def draw(case: Any) -> None:
        drawn.append((case.path_parameters, case.query, case.body))

    draw()
    return drawn


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)


async def test_decisions_declare_the_if_match_they_require(served: dict[str, Any]) -> None:
    """If-Match is read by a dependency, which Litestar does not document: a client reading the schema would
    never send it and meet only 428s."""
    decision = served["paths"]["/api/v1/key-group-claims/{claim_id}/decision"]["post"]
    (header,) = [p for p in decision["parameters"] if p["name"] == "If-Match"]
    assert header["in"] == "header"
    assert header["required"] is True
    pattern = header["schema"]["pattern"]
    assert re.fullmatch(pattern, '"3"')
    assert re.fullmatch(pattern, '"3", "4"')
    assert not re.fullmatch(pattern, "*")
    assert not re.fullmatch(pattern, 'W/"3"')
    assert {"412", "428"} <= set(decision["responses"])
