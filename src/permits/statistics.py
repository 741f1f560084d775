"""Public processing times: per permit type and department, how long decisions took against their limits.

Working days from acceptance to the decision day (行政许可法 Art. 82 counting), median and 90th percentile
(nearest-rank), against the statutory and the binding (promised) limits, the share decided in time, and the
reason published for each overdue decision (优化营商环境条例 Art. 36). A cell with fewer than 5 decisions shows
its count only: percentiles of a handful of cases would point at the people behind them. No personal data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from permits import workdays
from permits.models import OPEN_TASK_STATUSES, Application, Task

# Below this many decisions a cell publishes its count, nothing else.
MIN_CASES: Final = 5


class OverdueCase(msgspec.Struct, frozen=True, kw_only=True):
    """One decision made after its due day, with the reason the department published."""

    decision_number: str
    decided_on: dt.date
    due_on: dt.date
    working_days: int
    reason: str | None


class ProcessingTimes(msgspec.Struct, frozen=True, kw_only=True):
    """One permit type at one department over the period. A cell of fewer than 5 decisions is `suppressed`:
    it publishes no figure at all, not even its count. `open_overdue` counts tasks still undecided past their
    due day at the period's end (null under 5, for the same reason), so silence does not look punctual."""

    permit_type: str
    department: str
    decided: int | None
    suppressed: bool
    open_overdue: int | None
    median_working_days: float | None
    p90_working_days: int | None
    statutory_limit_days: int | None
    limit_days: int | None
    limit_unit: str | None
    in_time_share: float | None
    overdue: list[OverdueCase]


class ProcessingTimesOut(msgspec.Struct, frozen=True, kw_only=True):
    # Named as the query parameters that chose them.
    period_from: dt.date = msgspec.field(name="from")
    period_to: dt.date = msgspec.field(name="to")
    min_cases: int
    items: list[ProcessingTimes]


def _nearest_rank(values: Sequence[int], share: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _median(values: Sequence[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


async def _open_overdue(session: AsyncSession, on: dt.date) -> dict[tuple[str, str], int]:
    """Undecided tasks whose due day had passed on `on`, by permit type and department."""
    rows = await session.execute(
        select(Task.permit_type, Task.department, func.count())
        .where(Task.status.in_(OPEN_TASK_STATUSES), Task.due_on < on, Task.mode == "review")
        .group_by(Task.permit_type, Task.department)
    )
    return {(row[0], row[1]): int(row[2]) for row in rows}


async def processing_times(
    session: AsyncSession,
    *,
    calendar: workdays.WorkCalendar,
    period_from: dt.date,
    period_to: dt.date,
    today: dt.date,
    city: ZoneInfo,
) -> ProcessingTimesOut:
    """Decisions (approvals and rejections) whose day falls in [period_from, period_to], by type and department."""
    start = dt.datetime.combine(period_from, dt.time(0), tzinfo=city)
    end = dt.datetime.combine(period_to + dt.timedelta(days=1), dt.time(0), tzinfo=city)
    rows = (
        await session.execute(
            select(
                Task.permit_type,
                Task.department,
                Task.decided_at,
                Task.due_on,
                Task.decision_number,
                Task.overdue_reason,
                Task.limit_days,
                Task.limit_unit,
                Task.statutory_days,
                Application.accepted_on,
                Application.received_on,
            )
            .join(Application, Application.id == Task.application_id)
            .where(Task.decided_at >= start, Task.decided_at < end, Task.mode == "review")
            .order_by(Task.permit_type, Task.department, Task.decided_at, Task.id)
        )
    ).all()
    cells: dict[tuple[str, str], list[tuple[int, bool, OverdueCase | None]]] = defaultdict(list)
    limits: dict[tuple[str, str], Counter[tuple[int, int, str]]] = defaultdict(Counter)
    for row in rows:
        decided_on = row.decided_at.astimezone(city).date()
        accepted = row.accepted_on or row.received_on
        days = workdays.workdays_between(calendar, accepted, decided_on)
        late = decided_on > row.due_on
        case = (
            OverdueCase(
                decision_number=row.decision_number,
                decided_on=decided_on,
                due_on=row.due_on,
                working_days=days,
                reason=row.overdue_reason,
            )
            if late
            else None
        )
        key = (row.permit_type, row.department)
        cells[key].append((days, not late, case))
        limits[key][(row.statutory_days, row.limit_days, row.limit_unit)] += 1
    open_overdue = await _open_overdue(session, min(period_to, today))
    items = []
    for key in sorted(set(cells) | set(open_overdue)):
        permit_type, department = key
        cases = cells.get(key, [])
        late = open_overdue.get(key, 0)
        shown_late = late if late >= MIN_CASES else None
        if len(cases) < MIN_CASES:
            items.append(
                ProcessingTimes(
                    permit_type=permit_type,
                    department=department,
                    decided=None,
                    suppressed=True,
                    open_overdue=shown_late,
                    median_working_days=None,
                    p90_working_days=None,
                    statutory_limit_days=None,
                    limit_days=None,
                    limit_unit=None,
                    in_time_share=None,
                    overdue=[],
                )
            )
            continue
        # The limit most of the cell's decisions ran against (the statutory one, or a promised one).
        statutory, limit, unit = limits[key].most_common(1)[0][0]
        elapsed = [d for d, _, _ in cases]
        items.append(
            ProcessingTimes(
                permit_type=permit_type,
                department=department,
                decided=len(cases),
                suppressed=False,
                open_overdue=shown_late,
                median_working_days=_median(elapsed),
                p90_working_days=_nearest_rank(elapsed, 0.9),
                statutory_limit_days=statutory,
                limit_days=limit,
                limit_unit=unit,
                in_time_share=round(sum(1 for _, in_time, _ in cases if in_time) / len(cases), 4),
                overdue=[case for _, _, case in cases if case is not None],
            )
        )
    return ProcessingTimesOut(period_from=period_from, period_to=period_to, min_cases=MIN_CASES, items=items)
