"""What operators and their tools call: liveness, readiness and the metrics, outside the API and its auth.

- `GET /health`: the process answers (no database: a slow database must not get healthy workers killed).
- `GET /ready`: the database answers within `ops.ready_timeout_seconds` (2 s) *and* its schema is at the
  migrations' head; else 503 with Retry-After, so a load balancer sends no traffic to an instance started
  against an unmigrated or unreachable database.
- `GET /metrics`: Prometheus text (core.metrics) plus domain gauges computed from the database per scrape.
  Only for a bearer token (FLEXREG_METRICS_TOKEN) or callers from FLEXREG_METRICS_NETWORKS (through trusted
  proxies); with neither set, loopback only. Counts and codes only: nothing about a person.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from sqlalchemy import case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import metrics
from core.auth import bearer_token
from core.client_address import client_address
from core.db import transaction
from core.errors import Forbidden, NotAuthenticated, problem
from core.settings import Settings
from permits.models import APPLICATION_STATUSES, Application, Task
from venues.models import ROUND_STATUSES, AllocationRound

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# How long a load balancer should wait before asking an instance that is not ready again.
RETRY_AFTER_SECONDS = 5


class HealthOut(msgspec.Struct, frozen=True):
    status: str


class ReadyOut(msgspec.Struct, frozen=True):
    status: str
    # The Alembic revision the database is at (the migrations' head when ready).
    revision: str


@functools.cache
def migration_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts this code ships: read once per process."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_heads())


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> HealthOut:
    """Liveness: this worker runs its event loop."""
    return HealthOut(status="ok")


@get("/ready", include_in_schema=False)
async def ready(request: Request[Any, Any, Any], state: State) -> Response[Any]:
    """Readiness: the database answers in time and its schema is the one this code expects."""
    settings: Settings = state.settings
    heads = await asyncio.to_thread(migration_heads)
    try:
        async with asyncio.timeout(settings.ops.ready_timeout_seconds):
            async with transaction(state.sessionmaker) as session:
                revisions = set((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception:
        return _not_ready(request, "The database did not answer in time")
    if revisions != heads:
        return _not_ready(request, "The database schema is not at the migrations' head: run flexreg migrate")
    return Response(ReadyOut(status="ready", revision=",".join(sorted(revisions))))


def _not_ready(request: Request[Any, Any, Any], detail: str) -> Response[Any]:
    return problem(
        request,
        status=503,
        code="service_unavailable",
        title="The service is not ready",
        detail=detail,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@get("/metrics", include_in_schema=False)
async def metrics_page(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """Prometheus text exposition of the workers' counters and the database's gauges."""
    settings: Settings = state.settings
    _check_scraper(request, settings)
    async with transaction(state.sessionmaker) as session:
        families = await domain_gauges(session, settings)
    body, content_type = metrics.exposition(families)
    return Response(body, media_type=content_type)


def _check_scraper(request: Request[Any, Any, Any], settings: Settings) -> None:
    token = settings.ops.metrics_token
    presented = bearer_token(request)
    if token is not None and presented is not None and hmac.compare_digest(presented.encode(), token.encode()):
        return
    networks = settings.ops.metrics_networks or (LOOPBACK if token is None else ())
    try:
        address = ipaddress.ip_address(client_address(request.scope, settings.http.trusted_proxies))
    except ValueError:
        address = None
    if address is not None and any(address in network for network in networks):
        return
    if token is not None:
        raise NotAuthenticated("The metrics need the scraper's bearer token")
    raise Forbidden("The metrics are served to the configured networks only")


async def domain_gauges(session: AsyncSession, settings: Settings) -> list[Any]:
    """Gauges read from the database now: applications by status, overdue tasks, allocation rounds by status.

    Counted by the database at each scrape rather than kept in counters, so they are right whichever worker
    (or instance) did the work, and after a restart.
    """
    from prometheus_client.core import GaugeMetricFamily

    await session.execute(text("SET LOCAL statement_timeout = '2s'"))
    applications = GaugeMetricFamily("flexreg_applications", "One-stop applications by status", labels=["status"])
    by_status: dict[str, int] = dict(
        (await session.execute(select(Application.status, func.count()).group_by(Application.status))).all()
    )
    for status in APPLICATION_STATUSES:
        applications.add_metric([status], by_status.get(status, 0))
    # Overdue as the deadline sweep (permits.sweep) sees it: still in review past its due day, in the city's date.
    overdue = GaugeMetricFamily(
        "flexreg_tasks_overdue", "Department tasks in review past their due day", labels=["department"]
    )
    for department, count in await session.execute(
        select(Task.department, func.count())
        .where(Task.status == "in_review", Task.due_on < settings.today())
        .group_by(Task.department)
        .order_by(Task.department)
    ):
        overdue.add_metric([department], count)
    # The status venues.rounds.round_status derives, in SQL: drawn, else closed once applications closed.
    round_status = case(
        (AllocationRound.drawn_at.is_not(None), "drawn"),
        (AllocationRound.applications_close_at <= settings.now(), "closed"),
        else_="open",
    )
    rows = await session.execute(select(round_status, func.count()).group_by(round_status))
    counted: dict[str, int] = dict(rows.all())
    rounds = GaugeMetricFamily("flexreg_allocation_rounds", "Allocation rounds by status", labels=["status"])
    for round_state in ROUND_STATUSES:
        rounds.add_metric([round_state], counted.get(round_state, 0))
    draws = GaugeMetricFamily(
        "flexreg_draws_run", "Allocation rounds whose draw has run", value=counted.get("drawn", 0)
    )
    return [applications, overdue, rounds, draws]


ROUTE_HANDLERS = [health, ready, metrics_page]
