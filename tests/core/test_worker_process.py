"""`flexreg serve` starts one periodic-job worker beside granian and stops it with itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from core.db import drop_database, recreate_database
from flexreg.serving import wait_until_answering
from tests.venues.servers import free_port

pytestmark = pytest.mark.concurrency
NAME = f"flexreg_worker_check_{os.getpid()}"
STARTUP_S = 90.0


@pytest.fixture
def scratch_url(server_url: str) -> Iterator[str]:
    url = asyncio.run(recreate_database(server_url, NAME))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server_url, NAME))


def _workers(url: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM procrastinate_workers"))
        except asyncpg.UndefinedTableError:  # serve has not migrated yet
            return 0
        finally:
            await connection.close()

    return asyncio.run(count())


def test_serve_runs_a_worker_and_stops_it_with_itself(scratch_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": scratch_url, "FLEXREG_VAR_DIR": str(tmp_path)}
    port = free_port()
    command = [sys.executable, "-m", "flexreg.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_S
            while _workers(scratch_url) == 0:
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "no worker registered:\n" + log_path.read_text()
                time.sleep(0.2)
            assert _workers(scratch_url) == 1
            # Stopped once it serves: granian still starting its workers may miss the signal.
            assert wait_until_answering(f"http://127.0.0.1:{port}", STARTUP_S)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
                raise
    # The worker finished and unregistered itself (a killed one would leave its row behind).
    assert _workers(scratch_url) == 0, log_path.read_text()
