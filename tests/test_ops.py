"""The operators' endpoints: /health (liveness), /ready (database and schema), /metrics (who may scrape, what)."""

from __future__ import annotations

import socket

import httpx
import msgspec
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.client_address import parse_trusted_proxies
from core.settings import OpsSettings, Settings
from flexreg import ops
from flexreg.app import application_state
from tests.clock import city_time
from tests.permits.builders import make_permit_city, road_application
from tests.problems import assert_problem


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def with_ops(app: Litestar, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], **ops_: object) -> None:
    changed = msgspec.structs.replace(settings, ops=OpsSettings(**ops_))  # type: ignore[arg-type]
    app.state = application_state(changed, sessionmaker=sessionmaker)


async def test_health_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_is_at_the_migrations_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "revision": ",".join(sorted(ops.migration_heads()))}


async def test_not_ready_when_the_schema_is_behind(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await session.execute(text("UPDATE alembic_version SET version_num = '0001_registry_foundation'"))
    await session.commit()
    response = await client.get("/ready")
    body = assert_problem(response, 503, "service_unavailable")
    assert "flexreg migrate" in body["detail"]
    assert response.headers["Retry-After"] == str(ops.RETRY_AFTER_SECONDS)


async def test_not_ready_when_the_database_does_not_answer_in_time(
    app: Litestar, client: httpx.AsyncClient, settings: Settings
) -> None:
    # A "database" that accepts the connection and never says a word: only the timeout ends the wait.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        engine = create_async_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{silent.getsockname()[1]}/none")
        try:
            with_ops(app, settings, async_sessionmaker(engine), ready_timeout_seconds=0.2)
            response = await client.get("/ready")
        finally:
            await engine.dispose()
    body = assert_problem(response, 503, "service_unavailable")
    assert "did not answer" in body["detail"]
    assert response.headers["Retry-After"] == str(ops.RETRY_AFTER_SECONDS)


async def test_metrics_count_requests_by_route_template_and_refusals_by_code(client: httpx.AsyncClient) -> None:
    before = samples((await client.get("/metrics")).text)
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/api/v1/jurisdictions/999999999999")).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("flexreg_http_requests_total", method="GET", route="/health", status="200") == 1
    # The route template, never the path with its id.
    assert grew("flexreg_http_requests_total", method="GET", route="/api/v1/jurisdictions/{code}", status="404") == 1
    assert grew("flexreg_http_request_duration_seconds_count", method="GET", route="/health") == 1
    assert grew("flexreg_refusals_total", code="jurisdiction_not_found", status="404") == 1
    assert not any("999999999999" in str(key) for key in after)


async def test_metrics_gauges_come_from_the_database(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    city = await make_permit_city(session, settings)
    await road_application(client, city)
    now = samples((await client.get("/metrics")).text)
    assert now[("flexreg_applications", frozenset({("status", "in_review")}))] == 1
    assert now[("flexreg_applications", frozenset({("status", "approved")}))] == 0
    assert not any(name == "flexreg_tasks_overdue" for name, _ in now)
    assert now[("flexreg_draws_run", frozenset())] == 0
    assert now[("flexreg_allocation_rounds", frozenset({("status", "drawn")}))] == 0

    # Past both tasks' limits (the demo district promises 7 calendar days for road occupation).
    settings.clock.set(city_time(2026, 9, 1))  # type: ignore[attr-defined]
    late = samples((await client.get("/metrics")).text)
    assert late[("flexreg_tasks_overdue", frozenset({("department", "traffic_police")}))] == 1
    assert late[("flexreg_tasks_overdue", frozenset({("department", "urban_management")}))] == 1


@pytest.mark.parametrize(
    ("ops_settings", "headers", "status"),
    [
        # A token set and none presented: the scraper is told to authenticate, even from loopback.
        ({"metrics_token": "scrape-me"}, {}, 401),
        ({"metrics_token": "scrape-me"}, {"Authorization": "Bearer wrong"}, 401),
        ({"metrics_token": "scrape-me"}, {"Authorization": "Bearer scrape-me"}, 200),
        # Networks named: the test client's 127.0.0.1 is not among them.
        ({"metrics_networks": parse_trusted_proxies("10.0.0.0/8")}, {}, 403),
        ({"metrics_networks": parse_trusted_proxies("127.0.0.0/8")}, {}, 200),
        # Neither: loopback only (the test client calls from 127.0.0.1).
        ({}, {}, 200),
    ],
)
async def test_who_may_scrape_the_metrics(
    app: Litestar,
    client: httpx.AsyncClient,
    settings: Settings,
    ops_settings: dict[str, object],
    headers: dict[str, str],
    status: int,
) -> None:
    with_ops(app, settings, app.state.sessionmaker, **ops_settings)
    response = await client.get("/metrics", headers=headers)
    if status == 200:
        assert response.status_code == 200, response.text
        assert "flexreg_http_requests_total" in response.text
    else:
        assert_problem(response, status, "not_authenticated" if status == 401 else "forbidden")
