"""The HTTP layer of venues: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

from venues.api.allocations import AllocationController
from venues.api.rounds import RoundController
from venues.models import RoundStatus

CONTROLLERS: list[Any] = [RoundController, AllocationController]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {"RoundStatus": RoundStatus}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of venues (core.openapi_components)."""
    return []


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about venues' operations."""
