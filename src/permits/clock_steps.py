"""What a department records on its task's clock: Art. 42's extension and Art. 45's pauses.

- An extension (+10 working days under Art. 42, or the type's own), once, approved by the head of the agency,
  with its reason, which the service shows the applicant on the task the same day.
- A pause for a hearing, testing, inspection or expert review (Art. 45), from a day on or after the written
  notice to the applicant (the notice is recorded as sent), to its last day; the limit leaves those days out.

Both take If-Match on the task, found in the caller's department first (404 outside it), and lock the
application row before the task, like decisions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.errors import FieldError, InvalidInput
from permits import workdays
from permits.clocks import ClockError, PauseKind
from permits.errors import InvalidTransition, TaskNotFound
from permits.history import Actor, append_history
from permits.models import OPEN_APPLICATION_STATUSES, OPEN_TASK_STATUSES, Application, ClockPause, Task
from permits.tasks import clock_of, set_clock

# A planned step longer than this is no step but a suspension of the case.
MAX_PAUSE: Final = dt.timedelta(days=366)


async def _locked_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, precondition: Precondition
) -> tuple[Task, Application]:
    require_role(principal, "department")
    application_id = await session.scalar(
        select(Task.application_id).where(Task.id == task_id, Task.department == principal.department_code)
    )
    if application_id is None:
        raise TaskNotFound()
    application = (
        await session.execute(select(Application).where(Application.id == application_id).with_for_update())
    ).scalar_one()
    task = (
        await session.execute(
            select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    precondition.check(task.version, what="task")
    if task.status not in OPEN_TASK_STATUSES or application.status not in OPEN_APPLICATION_STATUSES:
        raise InvalidTransition(f"This task is {task.status}: its clock no longer runs", allowed=[])
    return task, application


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def extend_task(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    days: int,
    approved_by: str,
    reason: str,
    precondition: Precondition,
    calendar: workdays.WorkCalendar,
    now: dt.datetime,
    today: dt.date,
) -> tuple[Task, Application]:
    """Extend the task's limit once, approved by the agency head; the reason goes to the applicant."""
    task, application = await _locked_task(session, principal, task_id, precondition)
    if task.extension_days:
        raise InvalidTransition("This task's limit was extended already: the law allows one extension", allowed=[])
    task.extension_days, task.extension_approved_by = days, approved_by.strip()
    task.extension_reason, task.extension_approved_on = reason, today
    try:
        due = await clock_of(session, calendar, task, application, today=today)
    except ClockError as exc:
        field = "days" if "days" in str(exc) or "extension is" in str(exc) else "approved_by"
        raise InvalidInput(str(exc), errors=[FieldError(field, str(exc))]) from None
    set_clock(task, due)
    task.version += 1
    await session.flush()
    await append_history(
        session,
        event="task_extended",
        actor=Actor.of(principal),
        at=now,
        application_id=application.id,
        task_id=task.id,
        payload={"days": days, "reason_sha256": _sha256(reason), "due_on": task.due_on.isoformat()},
    )
    return task, application


async def pause_task(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    kind: PauseKind,
    starts_on: dt.date,
    ends_on: dt.date,
    notice: str,
    precondition: Precondition,
    calendar: workdays.WorkCalendar,
    now: dt.datetime,
    today: dt.date,
) -> tuple[Task, Application]:
    """Record an Art. 45 step, notified in writing today; the task's limit leaves its days out."""
    if starts_on < today:
        raise InvalidInput.for_field(
            "starts_on", "a step's time is left out only from its written notice: today or later"
        )
    if starts_on - today > MAX_PAUSE:
        raise InvalidInput.for_field("starts_on", "a step notified today starts within a year")
    if ends_on < starts_on:
        raise InvalidInput.for_field("ends_on", "must not be before starts_on")
    if ends_on - starts_on > MAX_PAUSE:
        raise InvalidInput.for_field("ends_on", "a step lasts at most a year")
    task, application = await _locked_task(session, principal, task_id, precondition)
    session.add(
        ClockPause(
            task_id=task.id,
            kind=kind,
            notice=notice,
            notified_on=today,
            starts_on=starts_on,
            ends_on=ends_on,
            recorded_by=principal.account_id,
        )
    )
    await session.flush()
    set_clock(task, await clock_of(session, calendar, task, application, today=today))
    task.version += 1
    await session.flush()
    await append_history(
        session,
        event="clock_paused",
        actor=Actor.of(principal),
        at=now,
        application_id=application.id,
        task_id=task.id,
        payload={
            "kind": kind,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "notice_sha256": _sha256(notice),
            "due_on": task.due_on.isoformat(),
        },
    )
    return task, application
