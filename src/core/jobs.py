"""Periodic jobs on procrastinate, a PostgreSQL job queue: safe with any number of app processes.

Each period of a job is deferred once, whoever defers it (procrastinate's `procrastinate_periodic_defers` has
a unique key on task, periodic id and timestamp), and each deferred job is run once, by whichever worker takes
it first (`FOR UPDATE SKIP LOCKED` in its fetch). So every `flexreg serve` can run a worker beside its HTTP
workers and a sweep still happens once per period.

A job is a name, a cron schedule (croniter syntax, in UTC) and an async function given the service's
sessionmaker and the instant it runs at, from the settings' clock (a FixedClock in tests). The job opens its
own transactions. Procrastinate talks to the database through psycopg 3, its own pool; the jobs use the
service's SQLAlchemy engine like everything else.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import croniter
import procrastinate
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db import create_engine, create_sessionmaker, transaction
from core.settings import Settings

logger = logging.getLogger(__name__)

QUEUE: Final = "flexreg_periodic"
JobFunction = Callable[[async_sessionmaker[AsyncSession], dt.datetime], Awaitable[None]]
_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Failed jobs are kept this long for a look afterwards, then pruned by `prune_job_queue`.
FAILED_JOBS_KEPT: Final = dt.timedelta(days=90)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    cron: str
    run: JobFunction


class JobRegistry:
    """The periodic jobs the worker runs, by unique name (flexreg's app factory layer fills one)."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeriodicJob] = {}

    def add(self, name: str, cron: str, run: JobFunction) -> PeriodicJob:
        if not _NAME.fullmatch(name):
            raise ValueError(f"job name {name!r}: snake_case, at most 63 characters")
        if name in self._jobs:
            raise ValueError(f"a periodic job named {name!r} is already registered")
        if not croniter.croniter.is_valid(cron):
            raise ValueError(f"job {name}: {cron!r} is not a cron schedule")
        job = PeriodicJob(name, cron, run)
        self._jobs[name] = job
        return job

    def __iter__(self) -> Iterator[PeriodicJob]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)


def include_in_autogenerate(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name`: procrastinate's tables are its schema's, applied by revision 0011, not models."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def queue_app(
    jobs: JobRegistry,
    *,
    libpq_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    schedule: bool = True,
) -> procrastinate.App:
    """A procrastinate app with one task per job, each scheduled by its cron unless `schedule` is false."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_url, min_size=1, max_size=3))
    for job in jobs:
        task = app.task(name=job.name, queue=QUEUE, pass_context=False)(_task_function(job, sessionmaker, clock))
        if schedule:
            app.periodic(cron=job.cron, periodic_id=job.name)(task)
    return app


def _task_function(
    job: PeriodicJob, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock
) -> Callable[..., Awaitable[None]]:
    async def run(timestamp: int | None = None) -> None:
        # `timestamp` is the period procrastinate deferred the job for; the job acts on the clock's now.
        await job.run(sessionmaker, clock.now())

    run.__name__ = run.__qualname__ = job.name
    return run


async def tick(
    jobs: JobRegistry, *, libpq_url: str, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    """One pass at the clock's instant: defer each job whose period began within procrastinate's catch-up
    window (10 minutes) before it, run whatever is queued, return. What a worker does, with time injected."""
    scheduler = queue_app(jobs, libpq_url=libpq_url, sessionmaker=sessionmaker, clock=clock)
    runner = queue_app(jobs, libpq_url=libpq_url, sessionmaker=sessionmaker, clock=clock, schedule=False)
    async with scheduler.open_async(), runner.open_async():
        deferrer = PeriodicDeferrer(registry=scheduler.periodic_registry)
        await deferrer.defer_jobs(deferrer.get_previous_tasks(at=clock.now().timestamp()))
        # The runner schedules nothing itself: its deferrer would look at the real time, not the clock's.
        await runner.run_worker_async(
            queues=[QUEUE], wait=False, install_signal_handlers=False, listen_notify=False, delete_jobs="successful"
        )


async def run_worker(settings: Settings, jobs: JobRegistry) -> None:
    """Run the periodic jobs until stopped (SIGINT/SIGTERM: the job in hand finishes first)."""
    engine = create_engine(settings)
    libpq_url = settings.db.url
    if libpq_url is None:
        raise RuntimeError("the worker needs DATABASE_URL (flexreg resolves and exports it before starting one)")
    app = queue_app(jobs, libpq_url=libpq_url, sessionmaker=create_sessionmaker(engine), clock=settings.clock)
    logger.info("worker: %s", ", ".join(f"{job.name} ({job.cron})" for job in jobs) or "no periodic jobs")
    try:
        async with app.open_async():
            await app.run_worker_async(queues=[QUEUE], name="flexreg", delete_jobs="successful")
    finally:
        await engine.dispose()


async def prune_job_queue(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    """Drop failed jobs once they are old (kept meanwhile for a look). Successful ones are deleted as they
    finish, and procrastinate keeps only the latest periodic-defer row per job itself."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            text(
                "DELETE FROM procrastinate_jobs WHERE status = 'failed' AND id IN "
                "(SELECT job_id FROM procrastinate_events WHERE type = 'failed' AND at < :cutoff)"
            ),
            {"cutoff": now - FAILED_JOBS_KEPT},
        )
