"""core.openapi on a small app of its own: how a domain's handlers document their refusals, enums and pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath, JSONBody, QueryParameter

from core.conditional import IF_MATCH_OPT
from core.errors import DomainError
from core.openapi import PROBLEMS_OPT, document_operations, documented_problems, operation_id_from_name
from core.openapi_components import add_examples, name_enums, name_generic_components
from core.pagination import Page

Colour = Literal["red", "green"]


class PitchTaken(DomainError):
    status = 409
    code = "pitch_taken"
    title = "That pitch is taken"


class ShadeOut(msgspec.Struct, kw_only=True):
    colour: Colour
    name: str


class PaintShade(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    colour: Colour


@get("/api/shades", sync_to_thread=False)
def list_shades(colour: Annotated[Colour | None, QueryParameter()] = None) -> Page[ShadeOut]:
    return Page(items=[], next_cursor=None)


@post("/api/shades/{name:str}/paint", opt={PROBLEMS_OPT: (PitchTaken,), IF_MATCH_OPT: True}, sync_to_thread=False)
def paint_shade(name: FromPath[str], data: JSONBody[PaintShade]) -> ShadeOut:
    return ShadeOut(colour=data.colour, name=name)


def _schema() -> tuple[Litestar, dict[str, Any]]:
    app = Litestar(
        [list_shades, paint_shade],
        openapi_config=OpenAPIConfig(title="t", version="1", operation_id_creator=operation_id_from_name),
    )
    document_operations(app)
    name_generic_components(app.openapi_schema)
    name_enums(app.openapi_schema, {"Colour": Colour})
    add_examples(app.openapi_schema, [ShadeOut(colour="red", name="朱红")])
    # As served: examples are Structs, which msgspec encodes (nulls included).
    return app, msgspec.to_builtins(app.openapi_schema.to_schema())


def test_a_handler_lists_its_refusals_with_the_generic_ones() -> None:
    app, _ = _schema()
    problems = documented_problems(app.openapi_schema)["paintShade"]
    assert problems[409] == {"pitch_taken", "idempotency_key_in_progress"}
    assert problems[412] == {"precondition_failed"}
    assert problems[428] == {"precondition_required"}
    assert "validation_failed" in problems[422]
    assert "malformed_json" in problems[400]


def test_if_match_option_makes_the_header_required() -> None:
    _, schema = _schema()
    operation = schema["paths"]["/api/shades/{name}/paint"]["post"]
    header = next(p for p in operation["parameters"] if p["name"] == "If-Match")
    assert header["required"] is True
    assert "ETag" in operation["responses"]["201"]["headers"]


def test_enums_become_references_nullable_ones_one_of_null() -> None:
    _, schema = _schema()
    assert schema["components"]["schemas"]["Colour"]["enum"] == ["red", "green"]
    parameter = schema["paths"]["/api/shades"]["get"]["parameters"][0]
    assert parameter["schema"]["oneOf"] == [{"$ref": "#/components/schemas/Colour"}, {"type": "null"}]
    assert schema["components"]["schemas"]["ShadeOut"]["properties"]["colour"] == {
        "$ref": "#/components/schemas/Colour"
    }


def test_two_enums_with_the_same_values_are_refused() -> None:
    app, _ = _schema()
    with pytest.raises(ValueError, match="same values"):
        name_enums(app.openapi_schema, {"Colour": Colour, "Hue": Literal["green", "red"]})


def test_generic_pages_get_plain_names_and_composed_examples() -> None:
    _, schema = _schema()
    page = schema["components"]["schemas"]["ShadePage"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/ShadeOut"}
    assert page["examples"] == [{"items": [{"colour": "red", "name": "朱红"}], "next_cursor": None}]
    answer = schema["paths"]["/api/shades"]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/ShadePage"}
    assert answer["examples"]["example"]["value"] == page["examples"][0]


def test_naming_enums_twice_changes_nothing() -> None:
    app, before = _schema()
    name_enums(app.openapi_schema, {"Colour": Colour})
    assert msgspec.to_builtins(app.openapi_schema.to_schema()) == before
