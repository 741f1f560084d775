"""The database decides decision races, across app processes: two `flexreg serve`, one PostgreSQL database.

- The last two departments approving one application at the same moment, 200 times: every application ends
  approved exactly once, with both tasks approved and one decision number each; nothing 5xx.
- Twenty reviewers of one department deciding one task with the same ETag: exactly one wins, the others get
  412 (the ETag moved) or 409, nothing 5xx.
- A withdrawal racing the last approval: never both.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import create_sessionmaker, drop_database, sqlalchemy_url, transaction
from core.settings import Settings
from permits import workdays
from permits.applications import Requirement, Submission, open_application
from permits.history import SYSTEM
from permits.issued_models import Permit
from permits.models import Application, Task
from registry.models import Account, Vendor
from tests.builders import auth_headers
from tests.conftest import migrated_database
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers
from tests.venues.servers import Served, flexreg_servers

pytestmark = pytest.mark.concurrency

CITY = ZoneInfo("Asia/Shanghai")
TRIALS = 200
BATCH = 20
TASKS = "/api/v1/tasks"


@pytest.fixture(scope="module")
def served(server_url: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    name = f"flexreg_decision_race_{os.getpid()}"
    url = asyncio.run(migrated_database(server_url, name))
    try:
        with flexreg_servers(url, settings, tmp_path_factory.mktemp("decision-race"), count=2) as served:
            yield served
    finally:
        asyncio.run(drop_database(server_url, name))


@pytest.fixture
async def committing(served: Served) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(served.database_url), poolclass=NullPool)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@dataclass
class Desk:
    vendor: Vendor
    road: Account
    police: Account
    applications: list[Application]


async def _desk(committing: async_sessionmaker[AsyncSession], settings: Settings, served: Served, n: int) -> Desk:
    """`n` open road-occupancy applications, each with the road authority's and the traffic police's task."""
    today = served.now.astimezone(CITY).date()
    start = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(18), tzinfo=CITY)
    calendar = workdays.NationalCalendar()
    async with transaction(committing) as session:
        place = await make_jurisdiction(session)
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=place.code)
        road = await make_account(session, "department", department_code="urban_management")
        police = await make_account(session, "department", department_code="traffic_police")
        applications = [
            (
                await open_application(
                    session,
                    vendor_id=vendor.id,
                    submission=Submission(
                        activity_code="shoe_repair",
                        location=None,
                        periods=[(start, start + dt.timedelta(hours=3))],
                        document_ids=(),
                        requirements=[
                            Requirement("road_occupancy", "urban_management"),
                            Requirement("road_occupancy", "traffic_police"),
                        ],
                        rule_version="test",
                        jurisdiction_code=place.code,
                    ),
                    calendar=calendar,
                    today=today,
                    now=served.now,
                    actor=SYSTEM,
                )
            ).application
            for _ in range(n)
        ]
    return Desk(vendor, road, police, applications)


async def _task_ids(committing: async_sessionmaker[AsyncSession], application_id: object) -> dict[str, str]:
    async with committing() as session:
        rows = (
            await session.execute(select(Task.department, Task.id).where(Task.application_id == application_id))
        ).all()
    return {row.department: str(row.id) for row in rows}


async def test_the_last_two_approvals_at_once_approve_each_application_exactly_once(
    served: Served, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    desk = await _desk(committing, settings, served, TRIALS)
    tasks = {a.id: await _task_ids(committing, a.id) for a in desk.applications}

    async def approve(client: httpx.AsyncClient, reviewer: Account, task_id: str, go: asyncio.Event) -> httpx.Response:
        await go.wait()
        headers = {**auth_headers(settings, reviewer), "If-Match": '"1"'}
        return await client.post(f"{TASKS}/{task_id}/decision", json={"decision": "approve"}, headers=headers)

    responses: list[httpx.Response] = []
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, timeout=60)) for b in served.bases]
        for first in range(0, TRIALS, BATCH):
            go = asyncio.Event()
            pending = []
            for application in desk.applications[first : first + BATCH]:
                ids = tasks[application.id]
                pending.append(asyncio.create_task(approve(clients[0], desk.road, ids["urban_management"], go)))
                pending.append(asyncio.create_task(approve(clients[1], desk.police, ids["traffic_police"], go)))
            await asyncio.sleep(0.05)
            go.set()
            responses += await asyncio.gather(*pending)

    assert [r.status_code for r in responses] == [200] * (2 * TRIALS), [
        r.text for r in responses if r.status_code != 200
    ]
    ids = [a.id for a in desk.applications]
    async with committing() as session:
        approved = await session.scalar(
            select(func.count()).where(Application.id.in_(ids), Application.status == "approved")
        )
        numbered = await session.scalar(
            select(func.count(func.distinct(Task.decision_number))).where(Task.application_id.in_(ids))
        )
        versions = set(await session.scalars(select(Application.version).where(Application.id.in_(ids))))
        permits = await session.scalar(select(func.count()).where(Permit.application_id.in_(ids)))
        numbers = await session.scalar(
            select(func.count(func.distinct(Application.permit_number))).where(Application.id.in_(ids))
        )
    assert approved == TRIALS
    assert permits == numbers == TRIALS  # exactly one permit per application, none lost, none twice
    assert numbered == 2 * TRIALS
    assert versions == {3}  # each application changed twice, once per decision: no lost update


async def test_twenty_reviewers_with_one_etag_have_one_winner(
    served: Served, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    desk = await _desk(committing, settings, served, 1)
    task_id = (await _task_ids(committing, desk.applications[0].id))["traffic_police"]
    async with transaction(committing) as session:
        reviewers = [await make_account(session, "department", department_code="traffic_police") for _ in range(20)]
    go = asyncio.Event()

    async def decide(client: httpx.AsyncClient, reviewer: Account, i: int) -> httpx.Response:
        await go.wait()
        decision = {"decision": "approve"} if i % 2 else {"decision": "reject", "note": f"第{i}号审查意见：不予许可"}
        headers = {**auth_headers(settings, reviewer), "If-Match": '"1"'}
        return await client.post(f"{TASKS}/{task_id}/decision", json=decision, headers=headers)

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, timeout=60)) for b in served.bases]
        pending = [asyncio.create_task(decide(clients[i % 2], r, i)) for i, r in enumerate(reviewers)]
        await asyncio.sleep(0.1)
        go.set()
        responses = await asyncio.gather(*pending)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, [r.text for r in responses]
    assert set(statuses) <= {200, 409, 412}, [r.text for r in responses]
    async with committing() as session:
        task = await session.get(Task, task_id)
    assert task is not None
    assert task.version == 2
    assert task.status in ("approved", "rejected")


async def test_a_withdrawal_racing_the_last_approval_never_ends_both_ways(
    served: Served, committing: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    desk = await _desk(committing, settings, served, 40)
    ids = {a.id: await _task_ids(committing, a.id) for a in desk.applications}
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, timeout=60)) for b in served.bases]
        for application in desk.applications:
            road_headers = {**auth_headers(settings, desk.road), "If-Match": '"1"'}
            first = await clients[0].post(
                f"{TASKS}/{ids[application.id]['urban_management']}/decision",
                json={"decision": "approve"},
                headers=road_headers,
            )
            assert first.status_code == 200, first.text
        go = asyncio.Event()

        async def approve(application_id: object) -> httpx.Response:
            await go.wait()
            headers = {**auth_headers(settings, desk.police), "If-Match": '"1"'}
            task_id = ids[application_id]["traffic_police"]  # type: ignore[index]
            return await clients[0].post(f"{TASKS}/{task_id}/decision", json={"decision": "approve"}, headers=headers)

        async def withdraw(application_id: object) -> httpx.Response:
            await go.wait()
            url = f"/api/v1/applications/{application_id}/withdraw"
            return await clients[1].post(url, headers=vendor_headers(settings, desk.vendor))

        pending = [asyncio.create_task(f(a.id)) for a in desk.applications for f in (approve, withdraw)]
        await asyncio.sleep(0.1)
        go.set()
        responses = await asyncio.gather(*pending)
    assert all(r.status_code in (200, 409, 412) for r in responses), [r.text for r in responses]
    for i in range(0, len(responses), 2):
        approved, withdrawn = responses[i], responses[i + 1]
        assert (approved.status_code == 200) != (withdrawn.status_code == 200), (approved.text, withdrawn.text)
    async with committing() as session:
        statuses = set(await session.scalars(select(Application.status).where(Application.id.in_(list(ids)))))
    assert statuses <= {"approved", "withdrawn"}
