"""The HTTP layer of permits: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from permits import issued_models, revocations
from permits.api import permit_examples
from permits.api.keys import PermitKeysController
from permits.api.permits import PermitController

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [
    PermitController,
    PermitKeysController,
]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    "PermitStatus": issued_models.PermitStatus,
    "PermitStoredStatus": issued_models.StoredStatus,
    "PermitGround": revocations.GroundCode,
}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of permits (core.openapi_components)."""
    return [*permit_examples.examples()]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about permits' operations (nothing yet)."""
