"""Periodic jobs on procrastinate (core.jobs): two workers ticking at the same moment run a job once per period,
the job gets the service's sessionmaker and the injected clock's now, and the queue's schema is the package's."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from importlib import resources

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.clock import FixedClock
from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.jobs import JobRegistry, prune_job_queue, tick
from flexreg.jobs import PERIODIC_JOBS
from tests.conftest import ROOT

pytestmark = pytest.mark.concurrency
# 10:00 in the city is 02:00 UTC: a five-minute schedule has a period starting exactly then.
PERIOD_START = dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
async def committing(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that commit: procrastinate's own connections must see the queue's rows."""
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        yield create_sessionmaker(engine)
        async with transaction(create_sessionmaker(engine)) as session:
            await session.execute(text("DELETE FROM procrastinate_periodic_defers WHERE task_name LIKE 'test_%'"))
            await session.execute(text("DELETE FROM procrastinate_jobs WHERE task_name LIKE 'test_%'"))
    finally:
        await engine.dispose()


async def test_two_workers_ticking_at_once_run_a_periodic_job_once_per_period(
    committing: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    runs: list[tuple[dt.datetime, int]] = []

    async def sweep(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
        async with transaction(sessionmaker) as session:
            runs.append((now, int(await session.scalar(text("SELECT 1")) or 0)))
        await asyncio.sleep(0.05)  # long enough for the other worker to look for it meanwhile

    jobs = JobRegistry()
    jobs.add("test_sweep", "*/5 * * * *", sweep)
    clock = FixedClock(PERIOD_START + dt.timedelta(seconds=30))

    async def two_workers() -> None:
        await asyncio.gather(
            *(tick(jobs, libpq_url=database_url, sessionmaker=committing, clock=clock) for _ in range(2))
        )

    await two_workers()
    assert runs == [(clock.now(), 1)]
    await two_workers()  # the same period again: already deferred, nothing runs
    assert len(runs) == 1
    clock.advance(dt.timedelta(minutes=5))
    await two_workers()
    assert [now for now, _ in runs] == [PERIOD_START + dt.timedelta(seconds=30), clock.now()]
    async with transaction(committing) as session:
        jobs_left = await session.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'test_sweep'"))
        defers = await session.scalar(
            text("SELECT count(*) FROM procrastinate_periodic_defers WHERE task_name = 'test_sweep'")
        )
    assert (jobs_left, defers) == (0, 1)  # successful jobs are deleted; procrastinate keeps the latest defer


async def test_a_tick_outside_a_jobs_catch_up_window_runs_nothing(
    committing: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    runs: list[dt.datetime] = []

    async def daily(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
        runs.append(now)

    jobs = JobRegistry()
    jobs.add("test_daily", "0 16 * * *", daily)  # midnight in the city
    await tick(jobs, libpq_url=database_url, sessionmaker=committing, clock=FixedClock(PERIOD_START))
    assert runs == []
    midnight = FixedClock(dt.datetime(2026, 6, 15, 16, 2, tzinfo=dt.UTC))
    await tick(jobs, libpq_url=database_url, sessionmaker=committing, clock=midnight)
    assert runs == [midnight.now()]


async def test_pruning_drops_failed_jobs_once_they_are_old(committing: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(committing) as session:
        for name, age in (("test_failed_long_ago", 91), ("test_failed_lately", 1)):
            job_id = await session.scalar(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name) VALUES ('flexreg_periodic', :name) "
                    "RETURNING id"
                ),
                {"name": name},
            )
            for status in ("doing", "failed"):  # procrastinate's triggers record each change as an event
                await session.execute(
                    text("UPDATE procrastinate_jobs SET status = :status WHERE id = :id"),
                    {"status": status, "id": job_id},
                )
            await session.execute(
                text("UPDATE procrastinate_events SET at = :at WHERE job_id = :id"),
                {"at": PERIOD_START - dt.timedelta(days=age), "id": job_id},
            )
    await prune_job_queue(committing, PERIOD_START)
    async with transaction(committing) as session:
        left = (
            await session.scalars(text("SELECT task_name FROM procrastinate_jobs WHERE task_name LIKE 'test_failed%'"))
        ).all()
    assert left == ["test_failed_lately"]


def test_jobs_are_registered_once_by_a_snake_case_name_with_a_valid_schedule() -> None:
    jobs = JobRegistry()

    async def nothing(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
        return None

    jobs.add("sweep_deadlines", "*/5 * * * *", nothing)
    with pytest.raises(ValueError, match="already registered"):
        jobs.add("sweep_deadlines", "*/5 * * * *", nothing)
    with pytest.raises(ValueError, match="not a cron schedule"):
        jobs.add("publish_history_anchor", "every day", nothing)
    with pytest.raises(ValueError, match="snake_case"):
        jobs.add("Publish-Anchor", "0 16 * * *", nothing)
    assert [job.name for job in jobs] == ["sweep_deadlines"]
    assert "prune_job_queue" in {job.name for job in PERIODIC_JOBS}


def test_the_migrations_procrastinate_schema_is_the_installed_packages() -> None:
    """Revision 0011 applies a vendored copy; a procrastinate upgrade that changes it needs a new revision."""
    vendored = (ROOT / "alembic" / "sql" / "procrastinate-3.10.0-schema.sql").read_text(encoding="utf-8")
    assert resources.files("procrastinate.sql").joinpath("schema.sql").read_text(encoding="utf-8") == vendored
