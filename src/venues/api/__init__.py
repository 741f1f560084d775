"""The HTTP layer of venues: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from venues.api.features import RestrictedFeatureController
from venues.api.pitches import PitchController
from venues.api.places_examples import PLACES_ENUMS, places_examples
from venues.api.venues import VenueController

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [VenueController, PitchController, RestrictedFeatureController]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {**PLACES_ENUMS}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of venues (core.openapi_components)."""
    return [*places_examples()]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about venues' operations."""
