"""A department's decision on its task; the applicant's answer to a supplement notice and withdrawal.

Decisions take If-Match on the task's ETag; the task is found in the caller's department first (404 outside it),
then the precondition is checked (428/412), then the state (409 naming the steps possible). Every decision
locks the application row before its task, so the last two approvals of one application are decided one after
the other: the second sees every task approved and closes the application as approved, exactly once.

Supplements (一次性告知, 行政许可法 Art. 32(4)): the first request opens the one notice and moves the application to
`needs_supplement`; other departments' requests made before the applicant answers join that notice; after the
answer a department may ask only about what was supplied (an item of the answered notice, or a document the
answer brought). A notice sent within 5 working days of receipt puts acceptance off to the day of the answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.conditional import Precondition
from core.errors import FieldError, InvalidInput
from permits import workdays
from permits.applications import (
    APPLICANT_STEPS,
    ApplicationRecord,
    check_documents,
    close_open_tasks,
    lock_application,
    set_joint_clock,
    to_application_record,
    withdraw_open,
)
from permits.errors import FilingNotRefusable, InvalidTransition, TaskNotFound
from permits.history import SYSTEM, Actor, append_history
from permits.models import OPEN_APPLICATION_STATUSES, Application, ApplicationDocument, SupplementNotice, Task
from permits.permit_issue import Issuer, issue_for_application
from permits.road_flow import settle_road_occupancy
from permits.tasks import decision_number, recompute_clocks

Decision = Literal["approve", "reject", "request_supplement"]

# How a refusal can be challenged; a rejection states both with their time limits (行政许可法 Art. 38).
CHALLENGE_ROUTES: Final = (
    "行政复议: within 60 days of learning of this decision, to the people's government at the level of the deciding "
    "department (行政复议法 2023 Art. 20, 24)",
    "行政诉讼: within 6 months of learning of this decision, to the people's court (行政诉讼法 Art. 46)",
)


@dataclass(frozen=True, slots=True)
class MissingItem:
    item: str
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionInput:
    decision: Decision
    note: str
    conditions: Sequence[str] = ()
    missing: Sequence[MissingItem] = field(default_factory=tuple)
    overdue_reason: str = ""


def _task_steps(task: Task, application: Application) -> list[str]:
    """The decisions possible on a task as things stand (409 names them)."""
    if application.status not in OPEN_APPLICATION_STATUSES:
        return []
    if task.status == "in_review":
        return ["approve", "request_supplement"] + (["reject"] if task.kind == "licence" else [])
    if task.status == "needs_supplement":
        return ["request_supplement"]  # joining the notice still open; decide once the applicant answers
    return []


def _check_input(task: Task, data: DecisionInput, today: dt.date) -> None:
    if data.decision != "request_supplement" and today > task.due_on and not data.overdue_reason.strip():
        raise InvalidInput.for_field(
            "overdue_reason",
            f"the decision is late (due {task.due_on.isoformat()}): say why, as the statistics publish it "
            "(优化营商环境条例 Art. 36)",
        )
    if data.decision in ("reject", "request_supplement") and not data.note.strip():
        raise InvalidInput.for_field("note", f"a {data.decision.replace('_', ' ')} must give its reasons")
    if data.decision == "request_supplement":
        if not data.missing:
            raise InvalidInput.for_field("missing", "name at least one missing item")
        problems = [
            FieldError(f"missing[{i}].reason", "must say why the item is needed")
            for i, item in enumerate(data.missing)
            if not item.reason.strip()
        ] + [
            FieldError(f"missing[{i}].item", "must not be blank")
            for i, item in enumerate(data.missing)
            if not item.item.strip()
        ]
        if problems:
            raise InvalidInput(problems[0].field + ": " + problems[0].message, errors=problems)
    elif data.missing:
        raise InvalidInput.for_field("missing", f"only a supplement request lists missing items, not {data.decision}")


async def decide_task(
    session: AsyncSession,
    principal: Principal,
    task_id: uuid.UUID,
    data: DecisionInput,
    *,
    precondition: Precondition,
    calendar: workdays.WorkCalendar,
    issuer: Issuer,
    now: dt.datetime,
    today: dt.date,
) -> tuple[Task, Application]:
    """Record a department's decision on its task and whatever follows for the application: the last approval
    issues the permit, a rejection ends the application."""
    require_role(principal, "department")
    application_id = await session.scalar(
        select(Task.application_id).where(Task.id == task_id, Task.department == principal.department_code)
    )
    if application_id is None:
        raise TaskNotFound()
    # Rows are never deleted: found once, they are there to lock.
    application = (
        await session.execute(select(Application).where(Application.id == application_id).with_for_update())
    ).scalar_one()
    task = (
        await session.execute(
            select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    precondition.check(task.version, what="task")
    if data.decision == "reject" and task.kind == "filing":
        raise FilingNotRefusable(
            "A filing is recorded once its materials are complete; ask for what is missing instead",
            errors=[FieldError("decision", "a filing is never refused on the merits")],
        )
    steps = _task_steps(task, application)
    if data.decision not in steps:
        raise InvalidTransition(
            f"This task is {task.status} and its application {application.status}: it cannot take {data.decision}",
            allowed=steps,
        )
    _check_input(task, data, today)
    if data.decision == "request_supplement":
        await _request_supplement(session, application, task, data.missing, now=now, today=today)
        if application.accepted_on is not None:
            await session.flush()
            await recompute_clocks(session, calendar, application, today=today)  # a stopping supplement begins
    else:
        task.status = "approved" if data.decision == "approve" else "rejected"
        task.decided_at, task.decided_by = now, principal.account_id
        task.decision_number = await decision_number(session, task.department, today.year)
        task.conditions = list(dict.fromkeys(c.strip() for c in data.conditions if c.strip()))
        task.overdue_reason = data.overdue_reason.strip() or None
    task.note = data.note
    task.version += 1
    await session.flush()
    if data.decision == "reject":
        application.status, application.decided_at = "rejected", now
        await close_open_tasks(session, application.id)
    elif data.decision == "approve" and await _all_approved(session, application.id):
        application.status, application.decided_at = "approved", now
    application.version += 1
    await session.flush()
    await settle_road_occupancy(session, application, now=now)
    await _record_decision(session, principal, task, application, data, now=now)
    if application.status == "approved":
        await issue_for_application(session, issuer, application, now=now)
    return task, application


def digest(text: str) -> str:
    """SHA-256 of free text: the history proves what was written without copying what people typed into it."""
    return hashlib.sha256(text.encode()).hexdigest()


async def _record_decision(
    session: AsyncSession,
    principal: Principal,
    task: Task,
    application: Application,
    data: DecisionInput,
    *,
    now: dt.datetime,
) -> None:
    payload: dict[str, object] = {"decision": data.decision, "note_sha256": digest(data.note), "version": task.version}
    if data.decision == "request_supplement":
        payload["items_sha256"] = [digest(m.item.strip() + "\n" + m.reason) for m in data.missing]
    else:
        payload["decision_number"] = task.decision_number
        payload["conditions_sha256"] = [digest(c) for c in task.conditions]
    event = {"approve": "task_approved", "reject": "task_rejected", "request_supplement": "supplement_requested"}
    await append_history(
        session,
        event=event[data.decision],
        actor=Actor.of(principal),
        at=now,
        application_id=application.id,
        task_id=task.id,
        payload=payload,
    )
    if application.status in ("approved", "rejected"):
        await append_history(
            session,
            event=f"application_{application.status}",
            actor=SYSTEM,
            at=now,
            application_id=application.id,
            payload={"version": application.version},
        )


async def withdraw_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *, now: dt.datetime
) -> ApplicationRecord:
    """The applicant takes the application back while it is open; its undecided tasks close, and a road
    occupancy waiting on it is withdrawn too. Of a withdrawal and a decision at once, one goes first (both lock
    the application row): after an approval, the withdrawal gets 409; after a withdrawal, the decision 409."""
    require_role(principal, "vendor")
    application = await lock_application(session, principal, application_id)
    if application.status not in OPEN_APPLICATION_STATUSES:
        raise InvalidTransition(
            f"This application is already {application.status}", allowed=APPLICANT_STEPS[application.status]
        )
    await withdraw_open(session, application, now=now, actor=Actor.of(principal), cause="applicant")
    await settle_road_occupancy(session, application, now=now)
    return await to_application_record(session, application)


async def _all_approved(session: AsyncSession, application_id: uuid.UUID) -> bool:
    pending = await session.scalar(
        select(func.count()).where(Task.application_id == application_id, Task.status != "approved")
    )
    return pending == 0


async def _request_supplement(
    session: AsyncSession,
    application: Application,
    task: Task,
    missing: Sequence[MissingItem],
    *,
    now: dt.datetime,
    today: dt.date,
) -> None:
    items = [{"item": m.item.strip(), "reason": m.reason, "department": task.department} for m in missing]
    notices = (
        await session.scalars(
            select(SupplementNotice)
            .where(SupplementNotice.application_id == application.id)
            .order_by(SupplementNotice.round)
            .with_for_update()
        )
    ).all()
    open_notice = next((n for n in notices if n.answered_at is None), None)
    if open_notice is not None:
        answered = [n for n in notices if n.answered_at is not None]
        if answered:
            _only_what_was_supplied(answered[-1], missing)  # joining a later round: still only what was supplied
        open_notice.items = [*open_notice.items, *items]  # joins the one notice not yet answered
    else:
        if notices:
            _only_what_was_supplied(notices[-1], missing)
        before_acceptance = not notices and today <= application.completeness_due_on
        session.add(
            SupplementNotice(
                application_id=application.id,
                round=len(notices) + 1,
                items=items,
                before_acceptance=before_acceptance,
                opened_at=now,
                opened_on=today,
            )
        )
        if before_acceptance:
            application.accepted_on = None  # accepted on the day the answer arrives
        application.status = "needs_supplement"
    task.status = "needs_supplement"


def _only_what_was_supplied(answered: SupplementNotice, missing: Sequence[MissingItem]) -> None:
    """After an answer, a new request may concern only what the answer supplied (no second round of new asks)."""
    allowed = {item["item"] for item in answered.items} | set(answered.answer_documents or [])
    problems = [
        FieldError(
            f"missing[{i}].item",
            "after the applicant's answer, ask only about what was supplied: an item of the answered notice or a "
            "document id the answer brought (一次性告知, 行政许可法 Art. 32)",
        )
        for i, item in enumerate(missing)
        if item.item.strip() not in allowed
    ]
    if problems:
        raise InvalidInput(problems[0].field + ": " + problems[0].message, errors=problems)


async def answer_supplement(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    document_ids: Sequence[uuid.UUID],
    note: str,
    calendar: workdays.WorkCalendar,
    now: dt.datetime,
    today: dt.date,
) -> ApplicationRecord:
    """The applicant answers the open notice: the application goes back to review, the waiting tasks too."""
    require_role(principal, "vendor")
    application = await lock_application(session, principal, application_id)
    if application.status != "needs_supplement":
        raise InvalidTransition(
            f"This application is {application.status}: there is no notice to answer",
            allowed=APPLICANT_STEPS[application.status],
        )
    if not document_ids and not note.strip():
        raise InvalidInput(
            "A supplement needs documents or a note",
            errors=[
                FieldError("document_ids", "send documents, a note, or both"),
                FieldError("note", "send documents, a note, or both"),
            ],
        )
    await check_documents(session, principal, document_ids)
    # needs_supplement always has its open notice (the two are written together).
    notice = (
        await session.execute(
            select(SupplementNotice)
            .where(SupplementNotice.application_id == application.id, SupplementNotice.answered_at.is_(None))
            .with_for_update()
        )
    ).scalar_one()
    notice.answered_at, notice.answered_on, notice.answer_note = now, today, note
    notice.answer_documents = [str(d) for d in dict.fromkeys(document_ids)]
    known = set(
        await session.scalars(
            select(ApplicationDocument.document_id).where(ApplicationDocument.application_id == application.id)
        )
    )
    session.add_all(
        ApplicationDocument(application_id=application.id, document_id=d, round=notice.round)
        for d in dict.fromkeys(document_ids)
        if d not in known
    )
    application.status = "in_review"
    application.version += 1
    await session.execute(
        update(Task)
        .where(Task.application_id == application.id, Task.status == "needs_supplement")
        .values(status="in_review", version=Task.version + 1)
    )
    if notice.before_acceptance:
        await _accept(session, application, calendar, today)
    else:
        await recompute_clocks(session, calendar, application, today=today)  # a stopping supplement ends
    await session.flush()
    await append_history(
        session,
        event="supplement_answered",
        actor=Actor.of(principal),
        at=now,
        application_id=application.id,
        payload={
            "round": notice.round,
            "document_ids": list(notice.answer_documents or []),
            "note_sha256": digest(note),
            "accepted_on": application.accepted_on.isoformat() if application.accepted_on else None,
        },
    )
    return await to_application_record(session, application)


async def _accept(
    session: AsyncSession, application: Application, calendar: workdays.WorkCalendar, today: dt.date
) -> None:
    """Acceptance on the answer day: every open task's limit now runs from it (Art. 32(4), 42)."""
    application.accepted_on = today
    if application.joint_due_on is not None:
        set_joint_clock(application, calendar, today=today)
    await recompute_clocks(session, calendar, application, today=today)
