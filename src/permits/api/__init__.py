"""The HTTP layer of permits: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from permits import clocks, decisions, exemption_rules, exemption_types, issued_models, models, revocations
from permits import exemption as exemption_service
from permits.api import application_examples, commitments, history_examples, permit_examples, statistics, tasks
from permits.api.applications import ApplicationController
from permits.api.exemption import ExemptionCheckController, ExemptionReferenceController
from permits.api.exemption_examples import examples as exemption_examples
from permits.api.history import HistoryAnchorController
from permits.api.keys import PermitKeysController
from permits.api.permits import PermitController
from permits.api.statistics import StatisticsController
from permits.api.tasks import TaskController
from permits.history_models import ActorRole

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [
    ExemptionCheckController,
    ExemptionReferenceController,
    ApplicationController,
    commitments.CommitmentTextController,
    TaskController,
    PermitController,
    PermitKeysController,
    StatisticsController,
    HistoryAnchorController,
]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    "ExemptionOutcome": exemption_types.Outcome,
    "ExemptionRule": exemption_rules.RuleName,
    "ExemptionVenueRole": exemption_types.VenueRole,
    "ExemptionReferenceStatus": exemption_service.ReferenceStatus,
    "ApplicationStatus": models.ApplicationStatus,
    "TaskStatus": models.TaskStatus,
    "TaskMode": models.TaskMode,
    "TaskDecision": decisions.Decision,
    "OverdueAction": models.OverdueAction,
    "PauseKind": clocks.PauseKind,
    "DecisionOutcome": tasks.DecisionOutcome,
    "HistoryActorRole": ActorRole,
    "PermitStatus": issued_models.PermitStatus,
    "PermitStoredStatus": issued_models.StoredStatus,
    "PermitGround": revocations.GroundCode,
}


def examples() -> list[msgspec.Struct]:
    """One realistic instance of each request and response Struct of permits (core.openapi_components)."""
    return [
        *exemption_examples(),
        *application_examples.examples(),
        *commitments.examples(),
        *statistics.examples(),
        *history_examples.examples(),
        *permit_examples.examples(),
    ]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about permits' operations (nothing yet beyond the handlers)."""
    del schema
