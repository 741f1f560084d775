"""The HTTP layer of venues: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from venues import rounds as round_service
from venues.api.allocations import AllocationController
from venues.api.round_examples import examples as round_examples
from venues.api.rounds import RoundController
from venues.models import AllocationSource, AllocationStatus, PlaceStatus, RoundStatus

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [RoundController, AllocationController]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    "PlaceStatus": PlaceStatus,
    "RoundStatus": RoundStatus,
    "AllocationStatus": AllocationStatus,
    "AllocationSource": AllocationSource,
    "MyRoundStatus": round_service.MyRoundStatus,
    "ChoiceOutcome": round_service.ChoiceOutcome,
}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of venues (core.openapi_components)."""
    return [*round_examples()]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about venues' operations."""
