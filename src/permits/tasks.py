"""Department tasks: one per required permit and department, each with its own clock; reading and the queue.

A task's department decides it (`permits.decisions`); a department sees only its own tasks (404 for another's,
before any precondition is looked at); an admin reads every task but decides none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, case, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.pagination import Page, keyset_page
from permits import workdays
from permits.errors import TaskNotFound
from permits.models import Application, Task, TaskStatus
from registry import catalogue

# The queue puts first the tasks this close to their statutory limit (API.md "GET /tasks").
NEAR_LIMIT_WORKING_DAYS = 2
# The general decision limit from acceptance when the catalogue names none for the permit type (行政许可法 Art. 42).
GENERAL_LIMIT_DAYS = 20
GENERAL_EXTENSION_DAYS = 10
GENERAL_LIMIT_BASIS = "行政许可法 Art. 42: 20 working days from acceptance, +10 with the agency head's approval"


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


@dataclass(frozen=True, slots=True)
class Limit:
    """The decision limit that binds a task: days, unit, where it comes from, and how far it may be extended."""

    days: int
    unit: str
    basis: str
    extension_days: int


def statutory_limit(permit_type: str) -> Limit:
    """The national statutory limit the catalogue records for a permit type, else the general Art. 42 limit."""
    permit = catalogue.load_catalogue().permit_type(permit_type)
    for limit in permit.statutory_limits:
        if limit.scope == "national" and not limit.uncertain:
            return Limit(limit.days, limit.unit, limit.basis, limit.extension_days)
    return Limit(GENERAL_LIMIT_DAYS, "working_day", GENERAL_LIMIT_BASIS, GENERAL_EXTENSION_DAYS)


def due_after(calendar: workdays.WorkCalendar, start: dt.date, days: int, unit: str) -> workdays.Deadline:
    """The last day of a limit of `days` counted from `start` (the start day itself not counted)."""
    if unit == "calendar_day":
        return workdays.add_calendar_days(calendar, start, days)
    return workdays.add_workdays(calendar, start, days)


def readable_tasks(principal: Principal) -> ColumnElement[bool]:
    """Which tasks a caller may read: its department's, or every task for an admin."""
    if principal.role == "admin":
        return true()
    if principal.role == "department" and principal.department_code:
        return Task.department == principal.department_code
    return false()


def to_record(task: Task, green_channel: bool) -> TaskRecord:
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
    )


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
    return to_record(row[0], row[1])


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
