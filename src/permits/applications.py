"""One-stop applications (一窗受理、并联审批): one submission, one task per required permit and department.

Receipt starts the completeness stage (行政许可法 Art. 32(4)): the application counts as accepted on the day
its materials arrived unless, within 5 working days, the applicant is sent the one notice of what is missing;
then it is accepted on the day the answer arrives. Each task's decision limit runs from acceptance.

Who reads an application: its applicant, the departments that have a task on it, an admin; anyone else 404.
Races: every step that changes an application first locks its row (`SELECT … FOR UPDATE`), so decisions,
supplements and withdrawal of one application happen one at a time in every app process.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, exists, false, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.errors import InvalidInput
from core.pagination import Page, keyset_page
from permits import clocks, time_limits, workdays
from permits.errors import ApplicationNotFound
from permits.history import Actor, append_history
from permits.models import (
    OPEN_TASK_STATUSES,
    Application,
    ApplicationDocument,
    ApplicationStatus,
    ClockPause,
    Commitment,
    SupplementNotice,
    Task,
)
from permits.tasks import TaskRecord, pauses_of, set_clock, task_clock, to_record
from registry import catalogue
from registry.models import Document

Period = tuple[dt.datetime, dt.datetime]

# What the applicant may do from each status (409 names these when a step is not possible).
APPLICANT_STEPS: dict[str, tuple[str, ...]] = {
    "in_review": ("withdraw",),
    "needs_supplement": ("supplement", "withdraw"),
    "approved": (),
    "rejected": (),
    "withdrawn": (),
}


@dataclass(frozen=True, slots=True)
class Requirement:
    """One task to open: a permit type and the department that reviews it."""

    permit_type: str
    department: str


@dataclass(frozen=True, slots=True)
class Submission:
    """What a vendor (or venues' road-occupancy hand-off) submits, checked for shape by the HTTP layer."""

    activity_code: str
    location: dict[str, Any] | None
    periods: Sequence[Period]
    document_ids: Sequence[uuid.UUID]
    requirements: Sequence[Requirement]
    rule_version: str
    jurisdiction_code: str
    venue_id: uuid.UUID | None = None
    venue_revision: int | None = None
    exemption_check_id: uuid.UUID | None = None
    road_occupancy_id: uuid.UUID | None = None
    green_channel: bool = False


class NoticeItem(msgspec.Struct, frozen=True, kw_only=True):
    item: str
    reason: str
    department: str


class NoticeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The one consolidated notice of what is missing (一次性告知), and its answer once sent."""

    round: int
    items: list[NoticeItem]
    before_acceptance: bool
    opened_at: dt.datetime
    answered_at: dt.datetime | None
    answer_note: str | None
    answer_document_ids: list[uuid.UUID]


class PeriodRecord(msgspec.Struct, frozen=True, kw_only=True):
    start: dt.datetime
    end: dt.datetime


class ApplicationRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    vendor_id: uuid.UUID
    activity_code: str
    location: dict[str, Any] | None
    periods: list[PeriodRecord]
    venue_id: uuid.UUID | None
    venue_revision: int | None
    road_occupancy_id: uuid.UUID | None
    exemption_check_id: uuid.UUID | None
    rule_version: str
    status: ApplicationStatus
    version: int
    green_channel: bool
    received_on: dt.date
    completeness_due_on: dt.date
    accepted_on: dt.date | None
    joint_due_on: dt.date | None
    joint_due_provisional: bool
    document_ids: list[uuid.UUID]
    tasks: list[TaskRecord]
    notices: list[NoticeRecord]
    permit_number: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


def readable_applications(principal: Principal) -> ColumnElement[bool]:
    """The applicant's own, the departments with a task on it, every one for an admin."""
    if principal.role == "admin":
        return true()
    if principal.role == "vendor" and principal.vendor_id is not None:
        return Application.vendor_id == principal.vendor_id
    if principal.role == "department" and principal.department_code:
        return exists().where(Task.application_id == Application.id, Task.department == principal.department_code)
    return false()


async def check_documents(session: AsyncSession, principal: Principal, document_ids: Sequence[uuid.UUID]) -> None:
    """Every document must exist and have been uploaded by the applicant's account (422 naming the field)."""
    wanted = set(document_ids)
    if not wanted:
        return
    # FOR KEY SHARE holds each document until this transaction ends: the retention run (flexreg.retention), which
    # locks unused documents FOR UPDATE SKIP LOCKED, passes over them, and one it holds already is gone once this
    # read returns, so it is refused here (422) instead of failing the insert's foreign key later (a 500).
    owned = set(
        await session.scalars(
            select(Document.id)
            .where(Document.id.in_(wanted), Document.owner_account_id == principal.account_id)
            .with_for_update(read=True, key_share=True)
        )
    )
    if owned != wanted:
        raise InvalidInput.for_field("document_ids", "every document must exist and be one you uploaded")


def _joint(requirements: Sequence[Requirement]) -> bool:
    return len({r.department for r in requirements}) > 1


def set_joint_clock(application: Application, calendar: workdays.WorkCalendar, *, today: dt.date) -> None:
    """A joint application as a whole: 45 working days from acceptance, +15 (行政许可法 Art. 42 ¶2)."""
    due = clocks.decision_due(
        calendar,
        accepted_on=application.accepted_on or application.received_on,
        today=today,
        scope="joint",
        rules=time_limits.load_time_limits().clock_rules_for(application.jurisdiction_code),
    )
    application.joint_due_on, application.joint_due_provisional = due.due_on, due.due_provisional


async def open_application(
    session: AsyncSession,
    *,
    vendor_id: uuid.UUID,
    submission: Submission,
    calendar: workdays.WorkCalendar,
    today: dt.date,
    now: dt.datetime,
    actor: Actor,
) -> OpenedApplication:
    """Write the application, its documents and one task per requirement, and its history's first row; the
    caller checked the documents."""
    acceptance = time_limits.task_acceptance(
        calendar, jurisdiction_code=submission.jurisdiction_code, received=today, today=today
    )
    application = Application(
        id=uuid.uuid4(),
        vendor_id=vendor_id,
        activity_code=submission.activity_code,
        location=submission.location,
        periods=[{"start": s.isoformat(), "end": e.isoformat()} for s, e in submission.periods],
        venue_id=submission.venue_id,
        venue_revision=submission.venue_revision,
        road_occupancy_id=submission.road_occupancy_id,
        exemption_check_id=submission.exemption_check_id,
        rule_version=submission.rule_version,
        jurisdiction_code=submission.jurisdiction_code,
        lead_department=submission.requirements[0].department,
        status="in_review",
        version=1,
        green_channel=submission.green_channel,
        received_on=acceptance.received_on,
        completeness_due_on=acceptance.notice_due_on,
        # Deemed accepted on receipt unless a timely notice says what is missing (Art. 32(4)).
        accepted_on=acceptance.received_on,
    )
    if _joint(submission.requirements):
        set_joint_clock(application, calendar, today=today)
    session.add(application)
    await session.flush()
    session.add_all(
        ApplicationDocument(application_id=application.id, document_id=document_id, round=0)
        for document_id in dict.fromkeys(submission.document_ids)
    )
    permits = catalogue.load_catalogue()
    created: list[Task] = []
    for requirement in dict.fromkeys(submission.requirements):
        kind = "filing" if permits.permit_type(requirement.permit_type).kind == "filing" else "licence"
        task = Task(
            application_id=application.id,
            department=requirement.department,
            permit_type=requirement.permit_type,
            kind=kind,
            mode="review",
            status="in_review",
            version=1,
        )
        set_clock(task, task_clock(calendar, task, application, today=today))
        created.append(task)
    session.add_all(created)
    await session.flush()
    tasks = sorted(created, key=lambda t: (t.department, t.permit_type))
    await append_history(
        session,
        event="application_submitted",
        actor=actor,
        at=now,
        application_id=application.id,
        payload={
            "activity_code": application.activity_code,
            "rule_version": application.rule_version,
            "road_occupancy_id": str(application.road_occupancy_id) if application.road_occupancy_id else None,
            "document_ids": [str(d) for d in dict.fromkeys(submission.document_ids)],
            "tasks": [
                {
                    "task_id": str(t.id),
                    "department": t.department,
                    "permit_type": t.permit_type,
                    "due_on": str(t.due_on),
                }
                for t in tasks
            ],
        },
    )
    return OpenedApplication(application, tasks, list(dict.fromkeys(submission.document_ids)))


@dataclass(frozen=True, slots=True)
class OpenedApplication:
    """What `open_application` wrote: the application, its tasks (by department and permit type) and its
    documents, so the caller can answer without reading back what it has just written."""

    application: Application
    tasks: list[Task]
    document_ids: list[uuid.UUID]

    def record(self) -> ApplicationRecord:
        """The new application's record: no pause, notice or commitment can exist yet."""
        return application_record(
            self.application,
            tasks=self.tasks,
            pauses={},
            signed={},
            document_ids=sorted(self.document_ids),
            notices=(),
        )


async def lock_application(session: AsyncSession, principal: Principal, application_id: uuid.UUID) -> Application:
    """The application row, locked for this transaction, if the caller may read it (404 otherwise)."""
    application = await session.scalar(
        select(Application).where(Application.id == application_id, readable_applications(principal)).with_for_update()
    )
    if application is None:
        raise ApplicationNotFound()
    return application


async def check_readable(session: AsyncSession, principal: Principal, application_id: uuid.UUID) -> None:
    """404 unless the caller may read the application."""
    found = await session.scalar(
        select(Application.id).where(Application.id == application_id, readable_applications(principal))
    )
    if found is None:
        raise ApplicationNotFound()


async def get_application(session: AsyncSession, principal: Principal, application_id: uuid.UUID) -> ApplicationRecord:
    application = await session.scalar(
        select(Application).where(Application.id == application_id, readable_applications(principal))
    )
    if application is None:
        raise ApplicationNotFound()
    return await to_application_record(session, application)


async def to_application_record(session: AsyncSession, application: Application) -> ApplicationRecord:
    return (await to_application_records(session, [application]))[0]


async def to_application_records(session: AsyncSession, applications: Sequence[Application]) -> list[ApplicationRecord]:
    """The records of these applications, with their tasks, pauses, commitments, documents and notices read in
    five queries whatever their number (a page of 20 once took a hundred)."""
    ids = [application.id for application in applications]
    if not ids:
        return []
    tasks = (
        await session.scalars(
            select(Task).where(Task.application_id.in_(ids)).order_by(Task.department, Task.permit_type)
        )
    ).all()
    task_ids = [task.id for task in tasks]
    pauses = await pauses_of(session, task_ids)
    signed = {c.task_id: c for c in await session.scalars(select(Commitment).where(Commitment.task_id.in_(task_ids)))}
    documents = (
        await session.execute(
            select(ApplicationDocument.application_id, ApplicationDocument.document_id)
            .where(ApplicationDocument.application_id.in_(ids))
            .order_by(ApplicationDocument.round, ApplicationDocument.document_id)
        )
    ).all()
    notices = (
        await session.scalars(
            select(SupplementNotice).where(SupplementNotice.application_id.in_(ids)).order_by(SupplementNotice.round)
        )
    ).all()
    by_application: dict[uuid.UUID, _Parts] = {i: _Parts() for i in ids}
    for task in tasks:
        by_application[task.application_id].tasks.append(task)
    for row in documents:
        by_application[row.application_id].document_ids.append(row.document_id)
    for notice in notices:
        by_application[notice.application_id].notices.append(notice)
    return [
        application_record(
            application,
            tasks=by_application[application.id].tasks,
            pauses=pauses,
            signed=signed,
            document_ids=by_application[application.id].document_ids,
            notices=by_application[application.id].notices,
        )
        for application in applications
    ]


@dataclass
class _Parts:
    tasks: list[Task] = field(default_factory=list)
    document_ids: list[uuid.UUID] = field(default_factory=list)
    notices: list[SupplementNotice] = field(default_factory=list)


def application_record(
    application: Application,
    *,
    tasks: Sequence[Task],
    pauses: Mapping[uuid.UUID, Sequence[ClockPause]],
    signed: Mapping[uuid.UUID, Commitment],
    document_ids: Sequence[uuid.UUID],
    notices: Sequence[SupplementNotice],
) -> ApplicationRecord:
    """An application's record from its parts, as read (tasks by department and permit type, documents by round
    and id, notices by round) or as just written (a new application: no pause, notice or commitment yet)."""
    return ApplicationRecord(
        id=application.id,
        vendor_id=application.vendor_id,
        activity_code=application.activity_code,
        location=application.location,
        periods=[
            PeriodRecord(start=dt.datetime.fromisoformat(p["start"]), end=dt.datetime.fromisoformat(p["end"]))
            for p in application.periods
        ],
        venue_id=application.venue_id,
        venue_revision=application.venue_revision,
        road_occupancy_id=application.road_occupancy_id,
        exemption_check_id=application.exemption_check_id,
        rule_version=application.rule_version,
        status=application.status,  # type: ignore[arg-type]
        version=application.version,
        green_channel=application.green_channel,
        received_on=application.received_on,
        completeness_due_on=application.completeness_due_on,
        accepted_on=application.accepted_on,
        joint_due_on=application.joint_due_on,
        joint_due_provisional=application.joint_due_provisional,
        document_ids=list(document_ids),
        tasks=[
            to_record(task, application.green_channel, pauses.get(task.id, ()), signed.get(task.id)) for task in tasks
        ],
        notices=[_notice_record(notice) for notice in notices],
        permit_number=application.permit_number,
        created_at=application.created_at,
        decided_at=application.decided_at,
        withdrawn_at=application.withdrawn_at,
    )


def _notice_record(notice: SupplementNotice) -> NoticeRecord:
    return NoticeRecord(
        round=notice.round,
        items=[NoticeItem(item=i["item"], reason=i["reason"], department=i["department"]) for i in notice.items],
        before_acceptance=notice.before_acceptance,
        opened_at=notice.opened_at,
        answered_at=notice.answered_at,
        answer_note=notice.answer_note,
        answer_document_ids=[uuid.UUID(d) for d in notice.answer_documents or []],
    )


async def list_applications(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[ApplicationRecord]:
    """A vendor's own applications, a department's (those it has a task on), or every one for an admin; newest first
    is not kept: creation order, so a page boundary never moves."""
    query = select(Application).where(readable_applications(principal))
    if status is not None:
        query = query.where(Application.status == status)
    page: Page[Application] = await keyset_page(
        session,
        query,
        (Application.created_at, Application.id),
        limit=limit,
        cursor=cursor,
        key=lambda a: (a.created_at, a.id),
    )
    return Page(items=await to_application_records(session, page.items), next_cursor=page.next_cursor)


async def close_open_tasks(session: AsyncSession, application_id: uuid.UUID) -> None:
    """Undecided tasks of an application that ended: closed, their ETags moved so a stale decision gets 412."""
    await session.execute(
        update(Task)
        .where(Task.application_id == application_id, Task.status.in_(OPEN_TASK_STATUSES))
        .values(status="closed", version=Task.version + 1)
    )


async def withdraw_open(
    session: AsyncSession, application: Application, *, now: dt.datetime, actor: Actor, cause: str
) -> None:
    """Withdraw a locked, open application and close its undecided tasks."""
    application.status, application.withdrawn_at = "withdrawn", now
    application.version += 1
    await close_open_tasks(session, application.id)
    await session.flush()
    await append_history(
        session,
        event="application_withdrawn",
        actor=actor,
        at=now,
        application_id=application.id,
        payload={"cause": cause},
    )
