"""Department tasks: GET /tasks (the queue), GET /tasks/{id}, POST /tasks/{id}/decision."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import requires
from core.conditional import IF_MATCH_OPT, etag
from core.deps import CurrentPrincipal, DbSession, IfMatch
from core.openapi import ETAG_HEADER, PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import free_text
from permits import clock_steps, decisions
from permits import tasks as service
from permits.calendars import calendar_of
from permits.clocks import PauseKind
from permits.errors import FilingNotRefusable, InvalidTransition, TaskNotFound
from permits.models import Application, Commitment, OverdueAction, Task, TaskMode, TaskStatus
from permits.permit_issue import Issuer
from registry.catalogue import PermitKind

Note = Annotated[str, free_text(4000, min_length=0, description="Reasons (required to reject or ask for more)")]
Condition = Annotated[str, free_text(500)]
ItemText = Annotated[str, free_text(500, description="What is missing")]
ItemReason = Annotated[str, free_text(1000, description="Why it is needed")]
# The end of a due day on the city's clock: what `due_at` says of a limit counted in days.
_END_OF_DAY: Final = dt.time(23, 59, 59)


class LimitOut(msgspec.Struct, frozen=True, kw_only=True):
    """The limit that binds the task: `days` in `unit` from acceptance, and its legal basis."""

    days: int
    unit: str
    basis: str


DecisionOutcome = Literal["approved", "rejected"]


class DecisionOut(msgspec.Struct, frozen=True, kw_only=True):
    """A numbered written decision (行政许可法 Art. 38); a rejection names the ways to challenge it."""

    number: str
    decided_at: dt.datetime
    outcome: DecisionOutcome
    note: str | None
    conditions: list[str]
    challenge_routes: list[str]


class TaskOut(msgspec.Struct, frozen=True, kw_only=True):
    """A department's task: `etag` goes in If-Match of its decision; `green_channel` never says which key group."""

    id: uuid.UUID
    application_id: uuid.UUID
    department: str
    permit_type: str
    kind: PermitKind
    mode: TaskMode
    status: TaskStatus
    green_channel: bool
    due_on: dt.date
    due_at: dt.datetime
    due_provisional: bool
    statutory_due_on: dt.date
    limit: LimitOut
    extension_days: int
    paused_days: int
    etag: str
    decision: DecisionOut | None
    note: str | None
    overdue_action: OverdueAction | None
    extension: service.ExtensionRecord | None
    pauses: list[service.PauseRecord]
    commitment: service.CommitmentRecord | None


def task_out(record: service.TaskRecord, city: ZoneInfo) -> TaskOut:
    decision = None
    if record.decision_number is not None and record.decided_at is not None:
        outcome: DecisionOutcome = "rejected" if record.status == "rejected" else "approved"
        decision = DecisionOut(
            number=record.decision_number,
            decided_at=record.decided_at.astimezone(city),
            outcome=outcome,
            note=record.note,
            conditions=record.conditions,
            challenge_routes=list(decisions.CHALLENGE_ROUTES) if outcome == "rejected" else [],
        )
    return TaskOut(
        id=record.id,
        application_id=record.application_id,
        department=record.department,
        permit_type=record.permit_type,
        kind=record.kind,  # type: ignore[arg-type]
        mode=record.mode,  # type: ignore[arg-type]
        status=record.status,
        green_channel=record.green_channel,
        due_on=record.due_on,
        due_at=dt.datetime.combine(record.due_on, _END_OF_DAY, tzinfo=city),
        due_provisional=record.due_provisional,
        statutory_due_on=record.statutory_due_on,
        limit=LimitOut(days=record.limit_days, unit=record.limit_unit, basis=record.limit_basis),
        extension_days=record.extension_days,
        paused_days=record.paused_days,
        etag=etag(record.version)["ETag"],
        decision=decision,
        note=record.note,
        overdue_action=record.overdue_action,  # type: ignore[arg-type]
        extension=record.extension,
        pauses=record.pauses,
        commitment=record.commitment,
    )


class MissingItemIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    item: ItemText
    reason: Annotated[str, free_text(1000, min_length=0, description="Why it is needed (required)")]


class DecideTask(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`approve`, `reject` (a licence only; reasons in `note`) or `request_supplement` (`missing` items, each with
    its reason, and a `note`)."""

    decision: decisions.Decision
    note: Note = ""
    conditions: Annotated[list[Condition], msgspec.Meta(max_length=20)] = []
    missing: Annotated[list[MissingItemIn], msgspec.Meta(max_length=50)] = []
    overdue_reason: Annotated[
        str, free_text(2000, min_length=0, description="Why, when deciding after the due day (published)")
    ] = ""


class ExtendTask(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Art. 42's extension: at most the limit's extension (10 working days under Art. 42), approved by the head
    of the agency before the limit ran out; `reason` is shown to the applicant."""

    days: Annotated[int, msgspec.Meta(ge=1, le=30)]
    approved_by: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="The agency head approving")]
    reason: Annotated[str, free_text(2000, description="Why, as the applicant is told")]


class PauseTask(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An Art. 45 step notified in writing today: its kind, first and last day, and the notice as sent."""

    kind: PauseKind
    starts_on: dt.date
    ends_on: dt.date
    notice: Annotated[str, free_text(4000, description="The written notice to the applicant")]


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class TaskController(Controller):
    path = "/tasks"
    tags = ("tasks",)
    security = [{"bearer": []}]

    @get(
        "/",
        operation_id="listTasks",
        summary="The department's queue of tasks (department: its own; admin: all)",
        guards=[requires("department", "admin")],
        description=(
            "Tasks within 2 working days of their statutory limit first, then the green channel (verified key-group "
            "applicants; reviewers see only `green_channel: true`), then by due day. Optionally by `status`."
        ),
    )
    async def list_tasks(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        status: Annotated[TaskStatus | None, QueryParameter(description="Only tasks in this status")] = None,
    ) -> Page[TaskOut]:
        settings = _settings(request)
        city = ZoneInfo(settings.timezone)
        page = await service.list_tasks(
            session,
            principal,
            today=settings.today(),
            calendar=await calendar_of(request.app.state, session),
            statuses=[status] if status else [],
            limit=limit,
            cursor=cursor,
        )
        return page_of([task_out(record, city) for record in page.items], page)

    @get(
        "/{task_id:uuid}",
        operation_id="getTask",
        summary="One task, with its ETag (its department; admin)",
        guards=[requires("department", "admin")],
        description="Another department's task is 404 `task_not_found`; vendors and street offices 403.",
        response_headers=[ETAG_HEADER],
        opt={PROBLEMS_OPT: (TaskNotFound,)},
    )
    async def get_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[TaskOut]:
        record = await service.get_task(session, principal, task_id)
        return Response(task_out(record, ZoneInfo(_settings(request).timezone)), headers=etag(record.version))

    @post(
        "/{task_id:uuid}/decision",
        operation_id="decideTask",
        summary="Approve, reject or ask for a supplement (the task's department, If-Match)",
        status_code=200,
        guards=[requires("department")],
        description=(
            "Another department's task is 404 `task_not_found`, before If-Match is looked at (absent 428, stale "
            "412). A task already decided, closed, or waiting on the applicant (it may still join the open notice) "
            "is 409 `invalid_transition` with `allowed_transitions`. A rejection and a supplement request need "
            "reasons in `note`; each `missing` item needs its reason (422 naming the field); a filing is never "
            "refused (422 `filing_not_refusable`). After the applicant's answer, a new request may ask only about "
            "what was supplied. The last approval approves the application (and a road occupancy waiting on it); "
            "one rejection rejects it, approvals already given staying on record."
        ),
        response_headers=[ETAG_HEADER],
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (TaskNotFound, InvalidTransition, FilingNotRefusable)},
    )
    async def decide_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        data: JSONBody[DecideTask],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[TaskOut]:
        settings = _settings(request)
        task, application = await decisions.decide_task(
            session,
            principal,
            task_id,
            decisions.DecisionInput(
                decision=data.decision,
                note=data.note,
                conditions=data.conditions,
                missing=[decisions.MissingItem(item=m.item, reason=m.reason) for m in data.missing],
                overdue_reason=data.overdue_reason,
            ),
            precondition=precondition,
            calendar=await calendar_of(request.app.state, session),
            issuer=Issuer(
                cipher=request.app.state.cipher, public_url=settings.http.public_url, timezone=settings.timezone
            ),
            now=settings.now(),
            today=settings.today(),
        )
        return await _task_response(session, task, application, settings)

    @post(
        "/{task_id:uuid}/extension",
        operation_id="extendTask",
        summary="Extend the task's limit once, with the agency head's approval (the task's department, If-Match)",
        status_code=200,
        guards=[requires("department")],
        description=(
            "行政许可法 Art. 42: once, by at most the limit's extension (10 working days for the general 20), approved "
            "by the head of the agency before the limit runs out; the reason is shown to the applicant on the task. "
            "Another department's task 404 before If-Match (428 absent, 412 stale); a second extension or a closed "
            "task 409 `invalid_transition`; too many days or a late approval 422 naming the field."
        ),
        response_headers=[ETAG_HEADER],
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (TaskNotFound, InvalidTransition)},
    )
    async def extend_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        data: JSONBody[ExtendTask],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[TaskOut]:
        settings = _settings(request)
        task, application = await clock_steps.extend_task(
            session,
            principal,
            task_id,
            days=data.days,
            approved_by=data.approved_by,
            reason=data.reason,
            precondition=precondition,
            calendar=await calendar_of(request.app.state, session),
            now=settings.now(),
            today=settings.today(),
        )
        return await _task_response(session, task, application, settings)

    @post(
        "/{task_id:uuid}/pauses",
        operation_id="pauseTask",
        summary="Record an Art. 45 step whose days the limit leaves out (the task's department, If-Match)",
        status_code=200,
        guards=[requires("department")],
        description=(
            "行政许可法 Art. 45: a hearing, testing, inspection or expert review, notified to the applicant in writing "
            "today (`notice`, as sent); from `starts_on` (today or later) to `ends_on` the clock stands still. "
            "Another department's task 404 before If-Match (428 absent, 412 stale); a closed task 409; a start "
            "before today or an end before the start 422 naming the field."
        ),
        response_headers=[ETAG_HEADER],
        opt={IF_MATCH_OPT: True, PROBLEMS_OPT: (TaskNotFound, InvalidTransition)},
    )
    async def pause_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[uuid.UUID],
        data: JSONBody[PauseTask],
        principal: CurrentPrincipal,
        session: DbSession,
        precondition: IfMatch,
    ) -> Response[TaskOut]:
        settings = _settings(request)
        task, application = await clock_steps.pause_task(
            session,
            principal,
            task_id,
            kind=data.kind,
            starts_on=data.starts_on,
            ends_on=data.ends_on,
            notice=data.notice,
            precondition=precondition,
            calendar=await calendar_of(request.app.state, session),
            now=settings.now(),
            today=settings.today(),
        )
        return await _task_response(session, task, application, settings)


async def _task_response(
    session: AsyncSession, task: Task, application: Application, settings: Settings
) -> Response[TaskOut]:
    pauses = await service.pauses_of(session, [task.id])
    record = service.to_record(task, application.green_channel, pauses[task.id], await session.get(Commitment, task.id))
    return Response(task_out(record, ZoneInfo(settings.timezone)), headers=etag(record.version))
