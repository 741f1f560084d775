"""Two real app processes (`flexreg serve` on two ports, one database) answer GET /designated-places right the
moment a venue change commits: each process checks the venue-change counter on every request.

One request per process and step, no sleeping and no retrying: an index that merely expired, or one a process
refreshed in the background, would answer a step late and fail here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import drop_database, recreate_database, sqlalchemy_url
from registry.models import Account
from tests.registry.builders import make_account, make_jurisdiction
from tests.venues.builders import bump_change_counter, wgs
from tests.venues.test_designated import make_zone
from venues.models import Venue

NAME = f"flexreg_designated_processes_{os.getpid()}"
BIN = Path(sys.executable).parent
CENTRE = wgs(shapely.Point(0, 0))
QUERY = {"lon": f"{CENTRE.x:.7f}", "lat": f"{CENTRE.y:.7f}", "at": "2026-06-15T10:00:00+08:00"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def _wait_until_serving(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/schema/openapi.json", timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, "the service did not start within 60 s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def two_processes(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(database URL, [base URL of each process]): two `flexreg serve` on one migrated scratch database."""
    url = asyncio.run(recreate_database(server_url, NAME))
    var = tmp_path_factory.mktemp("two-processes")
    env = {**os.environ, "DATABASE_URL": url, "FLEXREG_VAR_DIR": str(var), "FLEXREG_RATE_LIMITS": "off"}
    servers: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        done = subprocess.run([str(BIN / "flexreg"), "migrate"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        bases = []
        for number in (1, 2):
            port = _free_port()
            log_path = var / f"serve-{number}.log"
            log = log_path.open("w")
            logs.append(log)
            server = subprocess.Popen(
                [str(BIN / "flexreg"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            servers.append(server)
            bases.append(f"http://127.0.0.1:{port}")
            _wait_until_serving(server, bases[-1], log_path)
        yield url, bases
    finally:
        for server in servers:
            _stop(server)
        for log in logs:
            log.close()
        asyncio.run(drop_database(server_url, NAME))


@pytest.fixture
async def committing(two_processes: tuple[str, list[str]]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(sqlalchemy_url(two_processes[0]), poolclass=NullPool)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    finally:
        await engine.dispose()


async def _answers(bases: list[str]) -> list[list[str]]:
    """One request to each process; the names each answers with."""
    async with httpx.AsyncClient(timeout=10) as client:
        replies = await asyncio.gather(
            *(client.get(f"{base}/api/v1/designated-places", params=QUERY) for base in bases)
        )
    for reply in replies:
        assert reply.status_code == 200, reply.text
    return [[item["name"] for item in reply.json()["items"]] for reply in replies]


async def _change(maker: async_sessionmaker[AsyncSession], zone: Venue, *, bump: bool, **values: Any) -> None:
    async with maker() as session:
        await session.execute(update(Venue).where(Venue.id == zone.id).values(**values))
        if bump:
            await bump_change_counter(session)
        await session.commit()


@pytest.mark.concurrency
async def test_both_processes_answer_a_venue_change_the_moment_it_commits(
    two_processes: tuple[str, list[str]], committing: async_sessionmaker[AsyncSession]
) -> None:
    _, bases = two_processes
    async with committing() as session:
        jurisdiction = await make_jurisdiction(session)
        office: Account = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
        await session.commit()
    assert await _answers(bases) == [[], []]  # each process has built its index (no zone yet)

    async with committing() as session:
        zone = await make_zone(session, office)  # inserts the zone and bumps the counter, one transaction
        await session.commit()
    assert await _answers(bases) == [["东华门早市"], ["东华门早市"]]

    # A change written without the bump is not seen: the counter, not a timer, is what each process checks.
    suspended = dt.datetime(2026, 6, 15, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    await _change(committing, zone, bump=False, status="suspended", status_reason="道路施工", status_from=suspended)
    assert await _answers(bases) == [["东华门早市"], ["东华门早市"]]
    async with committing() as session:
        await bump_change_counter(session)
        await session.commit()
    assert await _answers(bases) == [[], []]

    # Reopened and renamed, then closed for good: each change is answered by both at once.
    await _change(committing, zone, bump=True, status="open", status_from=None, name="东华门便民市场")
    assert await _answers(bases) == [["东华门便民市场"], ["东华门便民市场"]]
    await _change(committing, zone, bump=True, status="closed", status_reason="撤销", status_from=suspended)
    assert await _answers(bases) == [[], []]
