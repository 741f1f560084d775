"""The HTTP layer of permits: one module per resource, each a Controller plus the Structs it speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI

from permits import clocks, decisions, issued_models, models, revocations
from permits.api import application_examples, history_examples, permit_examples, statistics, tasks
from permits.api.applications import ApplicationController
from permits.api.history import HistoryAnchorController
from permits.api.keys import PermitKeysController
from permits.api.permits import PermitController
from permits.api.statistics import StatisticsController
from permits.api.tasks import TaskController
from permits.history_models import ActorRole

__all__ = ["CONTROLLERS", "NAMED_ENUMS", "examples", "refine_openapi"]

CONTROLLERS: list[Any] = [
    ApplicationController,
    TaskController,
    PermitController,
    PermitKeysController,
    StatisticsController,
    HistoryAnchorController,
]

# Enum component names for the schema (core.openapi_components.name_enums): name -> the Literal.
NAMED_ENUMS: dict[str, Any] = {
    "ApplicationStatus": models.ApplicationStatus,
    "TaskStatus": models.TaskStatus,
    "TaskMode": models.TaskMode,
    "TaskKind": models.PermitKind,
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
        *application_examples.examples(),
        *statistics.examples(),
        *history_examples.examples(),
        *permit_examples.examples(),
    ]


def refine_openapi(schema: OpenAPI) -> None:
    """What the generated schema cannot know about permits' operations."""
