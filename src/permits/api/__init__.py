"""The HTTP layer of permits: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from permits import exemption as service
from permits import exemption_rules, exemption_types
from permits.api.exemption import ExemptionCheckController, ExemptionReferenceController
from permits.api.exemption_examples import examples as exemption_examples

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [ExemptionCheckController, ExemptionReferenceController]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    "ExemptionOutcome": exemption_types.Outcome,
    "ExemptionRule": exemption_rules.RuleName,
    "ExemptionVenueRole": exemption_types.VenueRole,
    "ExemptionReferenceStatus": service.ReferenceStatus,
}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of permits (core.openapi_components)."""
    return [*exemption_examples()]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about permits' operations (nothing yet beyond the handlers)."""
    del schema
