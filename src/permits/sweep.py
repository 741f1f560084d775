"""The deadline sweep: what happens to a task past its limit, per the jurisdiction's timeout policy (DOMAIN §4.3).

- `escalate` (the national default; 行政许可法 Art. 74(2)): the task is flagged overdue and the history says so,
  for the supervising office and the public statistics.
- `block`: flagged as blocked: nothing moves by silence, and the applicant's remedies (行政复议法 Art. 11(3))
  are open.
- `deem_consent`, only under a cited local instrument: a co-department's opinion (never the lead department's)
  counts as consent once its limit plus any extension has passed, never on a provisional deadline and never for
  a safety-critical type (food, gas, fire, the traffic police on a carriageway). The consent is recorded as a
  system decision with its own decision number; if it was the last approval, the permit is issued.

Safe with several workers: each task is handled in its own transaction that locks its application row with
SKIP LOCKED (a request deciding it meanwhile keeps it) and re-reads the task under that lock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import transaction
from permits import calendar_store, time_limits, workdays
from permits.applications import set_joint_clock
from permits.exemption_logic import TRAFFIC_POLICE
from permits.history import SYSTEM, append_history
from permits.models import OPEN_APPLICATION_STATUSES, OPEN_TASK_STATUSES, Application, Task
from permits.permit_issue import Issuer, issue_for_application
from permits.road_flow import settle_road_occupancy
from permits.tasks import decision_number, recompute_clocks
from venues.models import Venue


async def sweep_deadlines(
    sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime, *, issuer: Issuer
) -> list[tuple[uuid.UUID, str]]:
    """Act on every open task past its due day; what was done, as (task id, action), for logs and tests."""
    today = now.astimezone(ZoneInfo(issuer.timezone)).date()
    async with sessionmaker() as session:
        candidates = (
            await session.execute(
                select(Task.id, Task.application_id)
                .where(
                    # A task waiting on the applicant's materials runs no department's clock (Art. 32(4)).
                    Task.status == "in_review",
                    Task.due_on < today,
                    or_(Task.overdue_action.is_(None), Task.overdue_action == "escalated"),
                )
                .order_by(Task.due_on, Task.id)
            )
        ).all()
    done: list[tuple[uuid.UUID, str]] = []
    for task_id, application_id in candidates:
        async with transaction(sessionmaker) as session:
            action = await _handle(session, task_id, application_id, issuer=issuer, now=now, today=today)
        if action is not None:
            done.append((task_id, action))
    async with transaction(sessionmaker) as session:
        done += [(application_id, "joint_escalated") for application_id in await _joint_overdue(session, now, today)]
    return done


async def _joint_overdue(session: AsyncSession, now: dt.datetime, today: dt.date) -> list[uuid.UUID]:
    """Joint applications past their 45 working days as a whole (Art. 42 ¶2): escalated once, for the lead
    department and the supervising office; the tasks' own clocks are handled above."""
    late = (
        await session.scalars(
            select(Application)
            .where(
                Application.status == "in_review",
                Application.accepted_on.is_not(None),
                Application.joint_due_on < today,
                Application.joint_overdue_noted_at.is_(None),
            )
            .order_by(Application.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for application in late:
        application.joint_overdue_noted_at = now
        await session.flush()
        await append_history(
            session,
            event="application_overdue_escalated",
            actor=SYSTEM,
            at=now,
            application_id=application.id,
            payload={"joint_due_on": application.joint_due_on.isoformat() if application.joint_due_on else None},
        )
    return [application.id for application in late]


async def _handle(
    session: AsyncSession,
    task_id: uuid.UUID,
    application_id: uuid.UUID,
    *,
    issuer: Issuer,
    now: dt.datetime,
    today: dt.date,
) -> str | None:
    application = await session.scalar(
        select(Application).where(Application.id == application_id).with_for_update(skip_locked=True)
    )
    if application is None:
        return None  # a request holds it: the next sweep looks again
    task = (
        await session.execute(
            select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
        )
    ).scalar_one()
    if task.status != "in_review" or task.due_on >= today or task.overdue_action not in (None, "escalated"):
        return None
    if application.status != "in_review" or application.accepted_on is None:
        return None  # a notice awaits its answer: nothing is overdue, nothing can be deemed
    policy = time_limits.load_time_limits().timeout_policy_for(application.jurisdiction_code)
    calendar = await calendar_store.current_calendar(session)
    if policy.action == "deem_consent" and await _may_deem(session, task, application, calendar, today):
        await _deem_consent(session, task, application, instrument=policy.instrument or "", issuer=issuer, now=now)
        return "deemed_consent"
    if task.overdue_action is not None:
        return None  # already escalated; consent not (yet) possible
    action = "blocked" if policy.action == "block" else "escalated"
    task.overdue_action, task.overdue_noted_at = action, now
    await session.flush()
    await append_history(
        session,
        event=f"task_overdue_{action}",
        actor=SYSTEM,
        at=now,
        application_id=application.id,
        task_id=task.id,
        payload={"due_on": task.due_on.isoformat(), "policy_basis": policy.basis},
    )
    return action


async def _may_deem(
    session: AsyncSession, task: Task, application: Application, calendar: workdays.WorkCalendar, today: dt.date
) -> bool:
    """Deemed consent's conditions (DOMAIN §4.3): a co-department, past the limit plus extension, that limit
    counted on published data (the year of its last day loaded), and nothing safety-critical."""
    if task.department == application.lead_department or today <= task.statutory_due_on:
        return False
    if task.due_provisional or not calendar.knows(task.statutory_due_on):
        return False
    if task.permit_type in time_limits.load_time_limits().safety_critical:
        return False
    if task.department == TRAFFIC_POLICE and application.venue_id is not None:
        carriageway = await session.scalar(select(Venue.is_carriageway).where(Venue.id == application.venue_id))
        if carriageway:
            return False
    return True


async def _deem_consent(
    session: AsyncSession, task: Task, application: Application, *, instrument: str, issuer: Issuer, now: dt.datetime
) -> None:
    city_year = now.astimezone(ZoneInfo(issuer.timezone)).year
    task.status, task.decided_at, task.decided_by = "approved", now, None
    task.decision_number = await decision_number(session, task.department, city_year)
    task.note = f"视为同意 (deemed consent): no opinion within the limit, under {instrument}"
    task.overdue_action, task.overdue_noted_at = "deemed_consent", now
    task.version += 1
    await session.flush()
    pending = await session.scalar(
        select(Task.id).where(Task.application_id == application.id, Task.status != "approved").limit(1)
    )
    if pending is None:
        application.status, application.decided_at = "approved", now
    application.version += 1
    await session.flush()
    await settle_road_occupancy(session, application, now=now)
    await append_history(
        session,
        event="task_deemed_consented",
        actor=SYSTEM,
        at=now,
        application_id=application.id,
        task_id=task.id,
        payload={"decision_number": task.decision_number, "instrument": instrument, "version": task.version},
    )
    if application.status == "approved":
        await append_history(
            session,
            event="application_approved",
            actor=SYSTEM,
            at=now,
            application_id=application.id,
            payload={"version": application.version},
        )
        await issue_for_application(session, issuer, application, now=now)


async def recompute_provisional(session: AsyncSession, calendar: workdays.NationalCalendar, year: int) -> None:
    """A year's schedule was loaded: every open application with a deadline counted without it has its clocks
    counted again on the published data (calendar_store.on_year_loaded, in the load's transaction)."""
    # A statutory day counted past the data is provisional even where the promised one is not: any due day in
    # the loaded year or later was counted without it.
    first = dt.date(year, 1, 1)
    counted_without = select(Task.application_id).where(
        Task.status.in_(OPEN_TASK_STATUSES), or_(Task.due_on >= first, Task.statutory_due_on >= first)
    )
    await _recompute(
        session,
        calendar,
        Application.id.in_(counted_without)
        | (Application.joint_due_on >= first)
        | (Application.completeness_due_on >= first),
    )


async def recompute_region(session: AsyncSession, calendar: workdays.NationalCalendar, region: str) -> None:
    """A province's override (a typhoon closure, a festival) changed its working days: its open applications'
    clocks are counted again."""
    await _recompute(session, calendar, Application.jurisdiction_code.startswith(region))


async def _recompute(session: AsyncSession, calendar: workdays.NationalCalendar, which: ColumnElement[bool]) -> None:
    applications = (
        await session.scalars(
            select(Application)
            .where(which, Application.status.in_(OPEN_APPLICATION_STATUSES))
            .order_by(Application.id)
            .with_for_update()
        )
    ).all()
    for application in applications:
        # Counted as on the day they run from: only published days and pauses already notified change the count.
        reference = application.accepted_on or application.received_on
        # The day the one notice of what is missing is due (Art. 32(4)), counted on the published days too.
        application.completeness_due_on = time_limits.task_acceptance(
            calendar,
            jurisdiction_code=application.jurisdiction_code,
            received=application.received_on,
            today=application.received_on,
        ).notice_due_on
        if application.joint_due_on is not None:
            set_joint_clock(application, calendar, today=reference)
        await recompute_clocks(session, calendar, application, today=reference)
