"""GET /statistics/processing-times: how long each department took on each permit type (public)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.params import QueryParameter

from core.deps import DbSession
from core.errors import FieldError, InvalidInput
from core.openapi import PROBLEMS_OPT
from core.settings import Settings
from permits import statistics
from permits.calendars import calendar_of
from permits.statistics import ProcessingTimesOut

# One query covers at most this many days: enough for any annual report, bounded for the database.
MAX_SPAN_DAYS: Final = 3 * 366
# Decisions are this service's: none before 2000 or after 2099 (and the day after the last is still a date).
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class StatisticsController(Controller):
    path = "/statistics"
    tags = ["statistics"]

    @get(
        "/processing-times",
        operation_id="getProcessingTimes",
        summary="Processing times per permit type and department against their limits (public)",
        description=(
            "Anyone. Decisions made from `from` to `to` (city dates, both included; default: this year so far): "
            "median and 90th-percentile working days from acceptance to decision, the statutory and the binding "
            "(promised) limit, the share decided in time, and each overdue decision with the reason its "
            "department published. Cells of fewer than 5 decisions give their count only. No personal data. "
            "`to` before `from`, or a span over three years: 422 naming the parameter."
        ),
        opt={PROBLEMS_OPT: (InvalidInput,)},
    )
    async def get_processing_times(
        self,
        request: Request[Any, Any, Any],
        session: DbSession,
        period_from: Annotated[
            dt.date | None, QueryParameter(name="from", description="First day (YYYY-MM-DD)")
        ] = None,
        period_to: Annotated[dt.date | None, QueryParameter(name="to", description="Last day (YYYY-MM-DD)")] = None,
    ) -> ProcessingTimesOut:
        settings: Settings = request.app.state.settings
        today = settings.today()
        last = period_to or today
        first = period_from or last.replace(month=1, day=1)
        for name, day in (("from", first), ("to", last)):
            if not EARLIEST <= day <= LATEST:
                message = "must lie between the years 2000 and 2099"
                raise InvalidInput(f"{name}: {message}", errors=[FieldError(name, message)])
        if last < first:
            raise InvalidInput("to: must not be before from", errors=[FieldError("to", "must not be before from")])
        if (last - first).days > MAX_SPAN_DAYS:
            message = "must be at most three years after from"
            raise InvalidInput(f"to: {message}", errors=[FieldError("to", message)])
        return await statistics.processing_times(
            session,
            calendar=await calendar_of(request.app.state, session),
            period_from=first,
            period_to=last,
            today=today,
            city=ZoneInfo(settings.timezone),
        )


def examples() -> list[ProcessingTimesOut]:
    """The first half of 2026 in one district: road occupation decided well inside its limit, one late case."""
    road = statistics.ProcessingTimes(
        permit_type="road_occupancy",
        department="traffic_police",
        decided=48,
        suppressed=False,
        open_overdue=None,
        median_working_days=4.0,
        p90_working_days=9,
        statutory_limit_days=20,
        limit_days=20,
        limit_unit="working_day",
        in_time_share=0.9792,
        overdue=[
            statistics.OverdueCase(
                decision_number="TP-2026-000311",
                decided_on=dt.date(2026, 5, 29),
                due_on=dt.date(2026, 5, 27),
                working_days=22,
                reason="需会同路政部门现场勘验，勘验排期顺延两日",
            )
        ],
    )
    small = statistics.ProcessingTimes(
        permit_type="food_business_permit",
        department="market_regulation",
        decided=None,
        suppressed=True,
        open_overdue=None,
        median_working_days=None,
        p90_working_days=None,
        statutory_limit_days=None,
        limit_days=None,
        limit_unit=None,
        in_time_share=None,
        overdue=[],
    )
    return [
        ProcessingTimesOut(
            period_from=dt.date(2026, 1, 1), period_to=dt.date(2026, 6, 30), min_cases=5, items=[small, road]
        )
    ]
