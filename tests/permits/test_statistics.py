"""GET /statistics/processing-times: working days against limits, small cells suppressed, no personal data;
and a late decision must say why (the reason the statistics publish)."""

from __future__ import annotations

import datetime as dt
import itertools

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from permits import workdays
from permits.applications import Requirement, Submission, open_application
from permits.history import SYSTEM
from permits.models import Task
from registry.models import Vendor
from tests.clock import CITY
from tests.permits.builders import PermitCity, decide, make_permit_city, road_application, task_of
from tests.problems import assert_problem

URL = "/api/v1/statistics/processing-times"
_numbers = itertools.count(1)


@pytest.fixture
async def city(session: AsyncSession, settings: Settings) -> PermitCity:
    return await make_permit_city(session, settings)


async def _decided(
    session: AsyncSession, vendor: Vendor, *, received: dt.date, decided: dt.date, reason: str | None = None
) -> None:
    """A food business permit received on `received` (accepted the same day) and decided on `decided`."""
    opened = await open_application(
        session,
        vendor_id=vendor.id,
        submission=Submission(
            activity_code="cooked_snacks",
            location=None,
            periods=[(dt.datetime(2026, 9, 1, 18, tzinfo=CITY), dt.datetime(2026, 9, 1, 21, tzinfo=CITY))],
            document_ids=(),
            requirements=[Requirement("food_business_permit", "market_regulation")],
            rule_version="test",
            jurisdiction_code=vendor.residence_jurisdiction_code,
        ),
        calendar=workdays.NationalCalendar(),
        today=received,
        now=dt.datetime.combine(received, dt.time(9), tzinfo=CITY),
        actor=SYSTEM,
    )
    application = opened.application
    task = (await session.execute(select(Task).where(Task.application_id == application.id))).scalar_one()
    task.status = "approved"
    task.decided_at = dt.datetime.combine(decided, dt.time(15), tzinfo=CITY)
    task.decision_number = f"MR-2026-{next(_numbers):06d}"
    task.overdue_reason = reason
    application.status, application.decided_at = "approved", task.decided_at
    await session.flush()


async def test_a_cell_reports_medians_and_lateness_and_a_small_cell_only_its_count(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    # food_business_permit: 20 working days from acceptance by statute; received Mon 2026-06-01.
    received = dt.date(2026, 6, 1)
    calendar = workdays.NationalCalendar()
    # The demo city promises 8 working days for it (permits/data/time-limits.toml): all five are in time.
    for days in (2, 3, 4, 6, 8):
        await _decided(
            session, city.vendor, received=received, decided=workdays.add_workdays(calendar, received, days).on
        )
    await _decided(session, city.vendor, received=received, decided=dt.date(2026, 7, 20), reason="专家评审延期")
    await session.commit()
    body = (await client.get(URL, params={"from": "2026-06-01", "to": "2026-07-31"})).json()
    [cell] = [c for c in body["items"] if c["permit_type"] == "food_business_permit"]
    assert cell["decided"] == 6
    assert cell["suppressed"] is False
    assert cell["median_working_days"] == 5.0
    late_days = workdays.workdays_between(calendar, received, dt.date(2026, 7, 20))
    assert cell["p90_working_days"] == late_days
    assert cell["statutory_limit_days"] == 20
    assert cell["in_time_share"] == round(5 / 6, 4)
    assert cell["overdue"] == [
        {
            "decision_number": cell["overdue"][0]["decision_number"],
            "decided_on": "2026-07-20",
            "due_on": cell["overdue"][0]["due_on"],
            "working_days": late_days,
            "reason": "专家评审延期",
        }
    ]
    # No personal data anywhere in the answer.
    text = str(body)
    assert str(city.vendor.id) not in text
    assert city.vendor.name not in text
    assert body["min_cases"] == 5


async def test_fewer_than_five_decisions_give_only_their_count(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    for offset in range(4):
        await _decided(session, city.vendor, received=dt.date(2026, 6, 1), decided=dt.date(2026, 6, 3 + offset))
    await session.commit()
    body = (await client.get(URL, params={"from": "2026-06-01", "to": "2026-06-30"})).json()
    [cell] = body["items"]
    assert cell["decided"] is None  # not even the count of a small cell
    assert cell["suppressed"] is True
    assert cell["median_working_days"] is None
    assert cell["overdue"] == []


async def test_the_period_bounds_the_decisions_counted(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    await _decided(session, city.vendor, received=dt.date(2026, 5, 6), decided=dt.date(2026, 5, 8))
    await session.commit()
    assert (await client.get(URL, params={"from": "2026-06-01", "to": "2026-06-30"})).json()["items"] == []
    default = (await client.get(URL)).json()
    assert default["from"] == "2026-01-01"
    assert default["to"] == "2026-06-15"
    assert [(c["decided"], c["suppressed"]) for c in default["items"]] == [(None, True)]


@pytest.mark.parametrize(
    "params", [{"from": "2026-06-10", "to": "2026-06-01"}, {"from": "2020-01-01", "to": "2026-06-01"}]
)
async def test_a_backwards_or_too_long_period_is_refused(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert_problem(await client.get(URL, params=params), 422, "validation_failed", fields=["to"])


async def test_a_malformed_date_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, params={"from": "June"})
    assert response.status_code == 400, response.text


async def test_a_late_decision_must_say_why(client: httpx.AsyncClient, city: PermitCity, clock: object) -> None:
    from tests.clock import city_time

    application = await road_application(client, city)
    task = task_of(application, "traffic_police")
    clock.set(city_time(2026, 9, 1, 10))  # type: ignore[attr-defined]
    refused = await decide(client, city, city.police, task)
    assert_problem(refused, 422, "validation_failed", fields=["overdue_reason"])
    done = await decide(client, city, city.police, task, overdue_reason="现场勘验排期顺延")
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "params", [{"from": "9999-12-30", "to": "9999-12-31"}, {"from": "0001-01-01", "to": "0001-01-02"}]
)
async def test_dates_outside_the_services_years_are_refused(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get(URL, params=params)
    assert_problem(response, 422, "validation_failed")
