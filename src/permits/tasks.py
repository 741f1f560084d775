"""Department tasks: one per required permit and department, each with its own clock; reading and the queue.

A task's department decides it (`permits.decisions`); a department sees only its own tasks (404 for another's,
before any precondition is looked at); an admin reads every task but decides none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, case, false, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.pagination import Page, keyset_page
from permits import clocks, time_limits, workdays
from permits.errors import TaskNotFound
from permits.models import (
    OPEN_TASK_STATUSES,
    Application,
    ClockPause,
    Commitment,
    SupplementNotice,
    Task,
    TaskStatus,
)
from registry import catalogue

# The queue puts first the tasks this close to their statutory limit (API.md "GET /tasks").
NEAR_LIMIT_WORKING_DAYS = 2


class ExtensionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """Art. 42's extension: its days, who approved it and when, and the reason sent to the applicant."""

    days: int
    approved_by: str
    approved_on: dt.date
    reason: str


class PauseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An Art. 45 step the limit leaves out, with the written notice as sent."""

    kind: str
    notified_on: dt.date
    starts_on: dt.date
    ends_on: dt.date
    notice: str


class CommitmentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The signed commitment a task was approved on (告知承诺制), and when its inspection is due."""

    text_version: str
    text_sha256: str
    signed_by: uuid.UUID
    signed_at: dt.datetime
    inspection_due_on: dt.date
    inspection_due_provisional: bool


class TaskRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A task as its department and the applicant see it (never the applicant's key group)."""

    id: uuid.UUID
    application_id: uuid.UUID
    department: str
    permit_type: str
    kind: str
    mode: str
    status: TaskStatus
    version: int
    green_channel: bool
    limit_days: int
    limit_unit: str
    limit_basis: str
    extension_days: int
    paused_days: int
    due_on: dt.date
    due_provisional: bool
    statutory_due_on: dt.date
    decided_at: dt.datetime | None
    decision_number: str | None
    note: str | None
    conditions: list[str]
    overdue_action: str | None = None
    extension: ExtensionRecord | None = None
    pauses: list[PauseRecord] = []
    commitment: CommitmentRecord | None = None


def statutory_limit(permit_type: str) -> clocks.StatutoryLimit | None:
    """The national limit a law sets for this permit type (registry catalogue), or None for Art. 42's 20 + 10."""
    permit = catalogue.load_catalogue().permit_type(permit_type)
    for limit in permit.statutory_limits:
        if limit.scope == "national" and not limit.uncertain:
            return clocks.StatutoryLimit(limit.days, limit.extension_days, limit.basis, limit.unit)
    return None


def task_clock(
    calendar: workdays.WorkCalendar,
    task: Task,
    application: Application,
    *,
    today: dt.date,
    pauses: Sequence[ClockPause] = (),
    supplements: Sequence[SupplementNotice] = (),
) -> clocks.DecisionDue:
    """The task's clock as things stand: from acceptance (receipt while a notice waits), with the type's own or
    Art. 42's limit, the promised (green-channel) limit where published, its extension and its Art. 45 pauses."""
    extension = None
    if task.extension_days and task.extension_approved_on and task.extension_approved_by and task.extension_reason:
        extension = clocks.Extension(
            days=task.extension_days,
            approved_by=task.extension_approved_by,
            approved_on=task.extension_approved_on,
            reason=task.extension_reason,
            reason_sent_on=task.extension_approved_on,
        )
    return time_limits.task_due(
        calendar,
        permit_type=task.permit_type,
        jurisdiction_code=application.jurisdiction_code,
        accepted_on=application.accepted_on or application.received_on,
        today=today,
        green_channel=application.green_channel,
        statutory=statutory_limit(task.permit_type),
        extension=extension,
        pauses=[
            clocks.Pause(kind=p.kind, notified_on=p.notified_on, starts_on=p.starts_on, ends_on=p.ends_on)  # type: ignore[arg-type]
            for p in pauses
        ],
        # Supplements after acceptance; whether they stop the clock is the jurisdiction's rule (clocks).
        supplements=[
            clocks.Supplement(requested_on=n.opened_on, answered_on=n.answered_on)
            for n in supplements
            if not n.before_acceptance
        ],
    )


def set_clock(task: Task, due: clocks.DecisionDue) -> None:
    """Store a clock's outcome in the task row: the queue and the sweep read only these columns."""
    promised_binds = due.promised_due_on is not None and due.due_on == due.promised_due_on and not due.extension_days
    if promised_binds and due.promised_days is not None and due.promised_unit is not None:
        task.limit_days, task.limit_unit = due.promised_days, due.promised_unit
        task.limit_basis = f"承诺时限 (promised limit); statutory: {due.statutory_basis}"
    else:
        task.limit_days, task.limit_unit, task.limit_basis = due.statutory_days, due.statutory_unit, due.statutory_basis
    task.statutory_days = due.statutory_days
    task.statutory_due_on = due.statutory_due_on
    task.due_on, task.due_provisional = due.due_on, due.due_provisional
    task.paused_days, task.extension_days = due.paused_days, due.extension_days


async def recompute_clocks(
    session: AsyncSession, calendar: workdays.WorkCalendar, application: Application, *, today: dt.date
) -> None:
    """Recompute every open task's clock of an application (acceptance moved, a pause, a new calendar year)."""
    tasks = (
        await session.scalars(
            select(Task).where(Task.application_id == application.id, Task.status.in_(OPEN_TASK_STATUSES))
        )
    ).all()
    for task in tasks:
        set_clock(task, await clock_of(session, calendar, task, application, today=today))


async def clock_of(
    session: AsyncSession, calendar: workdays.WorkCalendar, task: Task, application: Application, *, today: dt.date
) -> clocks.DecisionDue:
    """`task_clock` with the task's recorded pauses and the application's supplement notices."""
    pauses = (await session.scalars(select(ClockPause).where(ClockPause.task_id == task.id))).all()
    notices = (
        await session.scalars(select(SupplementNotice).where(SupplementNotice.application_id == application.id))
    ).all()
    return task_clock(calendar, task, application, today=today, pauses=pauses, supplements=notices)


async def decision_number(session: AsyncSession, department: str, year: int) -> str:
    """A written decision's number: the deciding department, the year and a number from one sequence."""
    serial = await session.scalar(text("SELECT nextval('permits_decision_number_seq')"))
    prefix = "".join(word[0] for word in department.split("_")).upper()
    return f"{prefix}-{year}-{serial:06d}"


def readable_tasks(principal: Principal) -> ColumnElement[bool]:
    """Which tasks a caller may read: its department's, or every task for an admin."""
    if principal.role == "admin":
        return true()
    if principal.role == "department" and principal.department_code:
        return Task.department == principal.department_code
    return false()


def to_record(
    task: Task, green_channel: bool, pauses: Sequence[ClockPause] = (), commitment: Commitment | None = None
) -> TaskRecord:
    extension = None
    if task.extension_days and task.extension_approved_by and task.extension_approved_on and task.extension_reason:
        extension = ExtensionRecord(
            days=task.extension_days,
            approved_by=task.extension_approved_by,
            approved_on=task.extension_approved_on,
            reason=task.extension_reason,
        )
    return TaskRecord(
        id=task.id,
        application_id=task.application_id,
        department=task.department,
        permit_type=task.permit_type,
        kind=task.kind,
        mode=task.mode,
        status=task.status,  # type: ignore[arg-type]
        version=task.version,
        green_channel=green_channel,
        limit_days=task.limit_days,
        limit_unit=task.limit_unit,
        limit_basis=task.limit_basis,
        extension_days=task.extension_days,
        paused_days=task.paused_days,
        due_on=task.due_on,
        due_provisional=task.due_provisional,
        statutory_due_on=task.statutory_due_on,
        decided_at=task.decided_at,
        decision_number=task.decision_number,
        note=task.note,
        conditions=list(task.conditions),
        overdue_action=task.overdue_action,
        extension=extension,
        pauses=[
            PauseRecord(
                kind=p.kind, notified_on=p.notified_on, starts_on=p.starts_on, ends_on=p.ends_on, notice=p.notice
            )
            for p in sorted(pauses, key=lambda p: (p.starts_on, p.created_at))
        ],
        commitment=None
        if commitment is None
        else CommitmentRecord(
            text_version=commitment.text_version,
            text_sha256=commitment.text_sha256,
            signed_by=commitment.signed_by,
            signed_at=commitment.signed_at,
            inspection_due_on=commitment.inspection_due_on,
            inspection_due_provisional=commitment.inspection_due_provisional,
        ),
    )


async def pauses_of(session: AsyncSession, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ClockPause]]:
    """The Art. 45 pauses of these tasks, by task."""
    found: dict[uuid.UUID, list[ClockPause]] = {task_id: [] for task_id in task_ids}
    if task_ids:
        for pause in await session.scalars(select(ClockPause).where(ClockPause.task_id.in_(task_ids))):
            found[pause.task_id].append(pause)
    return found


async def get_task(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> TaskRecord:
    """A task its department or an admin reads; anyone else 404 (vendors and street offices 403)."""
    require_role(principal, "department", "admin")
    row = (
        await session.execute(
            select(Task, Application.green_channel)
            .join(Application, Application.id == Task.application_id)
            .where(Task.id == task_id, readable_tasks(principal))
        )
    ).first()
    if row is None:
        raise TaskNotFound()
    pauses = await pauses_of(session, [task_id])
    return to_record(row[0], row[1], pauses[task_id], await session.get(Commitment, task_id))


async def list_tasks(
    session: AsyncSession,
    principal: Principal,
    *,
    today: dt.date,
    calendar: workdays.WorkCalendar,
    statuses: Sequence[str] = (),
    limit: int,
    cursor: str | None = None,
) -> Page[TaskRecord]:
    """The department's queue: tasks within 2 working days of their statutory limit first, then the green
    channel, then by due day (API.md). An admin sees every department's."""
    require_role(principal, "department", "admin")
    near = near_limit_day(calendar, today)
    urgency = case((Task.statutory_due_on <= near, 0), else_=1)
    channel = case((Application.green_channel, 0), else_=1)
    query: Any = (
        select(Task, Application.green_channel)
        .join(Application, Application.id == Task.application_id)
        .where(readable_tasks(principal))
    )
    if statuses:
        query = query.where(Task.status.in_(statuses))
    return await keyset_page(
        session,
        query,
        (urgency, channel, Task.due_on, Task.id),  # type: ignore[arg-type]
        limit=limit,
        cursor=cursor,
        key=lambda record: (*_queue_key(record, near), record.due_on, record.id),
        convert=_task_row,
    )


def _task_row(row: Any) -> TaskRecord:
    task, green_channel = row
    return to_record(task, green_channel)


def _queue_key(record: TaskRecord, near: dt.date) -> tuple[int, int]:
    """The queue's first two sort values, as the query computes them: near the statutory limit, green channel."""
    return (0 if record.statutory_due_on <= near else 1, 0 if record.green_channel else 1)


def near_limit_day(calendar: workdays.WorkCalendar, today: dt.date) -> dt.date:
    """The last statutory due day that counts as near: 2 working days from today."""
    return workdays.add_workdays(calendar, today, NEAR_LIMIT_WORKING_DAYS).on
