"""The HTTP layer of venues: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from venues import models, road_rules, round_results
from venues.api import designated, road_examples
from venues.api.allocations import AllocationController
from venues.api.features import RestrictedFeatureController
from venues.api.pitches import PitchController
from venues.api.places_examples import PLACES_ENUMS, places_examples
from venues.api.road import RoadOccupancyController
from venues.api.round_examples import examples as round_examples
from venues.api.rounds import RoundController, document_draw_body
from venues.api.venues import VenueController
from venues.models import AllocationSource, AllocationStatus, RoundStatus

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [
    VenueController,
    PitchController,
    RestrictedFeatureController,
    RoundController,
    AllocationController,
    RoadOccupancyController,
    designated.DesignatedPlaceController,
]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    **PLACES_ENUMS,
    "RoundStatus": RoundStatus,
    "AllocationStatus": AllocationStatus,
    "AllocationSource": AllocationSource,
    "MyRoundStatus": round_results.MyRoundStatus,
    "ChoiceOutcome": round_results.ChoiceOutcome,
    "OccupancyStatus": models.OccupancyStatus,
    "RoadCheckName": road_rules.RoadCheckName,
}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of venues (core.openapi_components)."""
    return [
        *places_examples(),
        *round_examples(),
        *road_examples.examples(),
        *designated.examples(),
    ]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about venues' operations."""
    designated.document_parameters(schema)
    document_draw_body(schema)
