"""The HTTP layer of permits: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from permits.api import history_examples
from permits.api.history import HistoryAnchorController
from permits.history_models import ActorRole

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [HistoryAnchorController]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {"HistoryActorRole": ActorRole}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of permits (core.openapi_components)."""
    return [*history_examples.examples()]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about permits' operations (nothing yet)."""
