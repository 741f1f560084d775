"""`flexreg serve --demo` (what `make run` runs) for real: its output ends with the ready block once it answers,
and a second start on the same port is refused instead of silently sharing it."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db import drop_database, recreate_database
from flexreg.demo import STAFF

NAME = f"flexreg_serve_check_{os.getpid()}"
RULE = "=" * 72


@pytest.fixture
def serve_env(server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    url = asyncio.run(recreate_database(server_url, NAME))
    try:
        yield {**os.environ, "DATABASE_URL": url, "FLEXREG_VAR_DIR": str(tmp_path)}
    finally:
        asyncio.run(drop_database(server_url, NAME))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flexreg.cli", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


def test_serve_ends_with_the_ready_block_and_a_second_start_is_refused(serve_env: dict[str, str]) -> None:
    port = _free_port()
    server = _serve(port, serve_env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line.rstrip("\n")) for line in server.stdout or ()], daemon=True
    )
    reader.start()
    try:
        output: list[str] = []
        deadline = time.monotonic() + 90
        while not (output.count(RULE) >= 2 and "flexreg is ready" in output):
            assert server.poll() is None, "\n".join(output)
            try:
                output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail("no ready block within 90 s:\n" + "\n".join(output))
        block = output[output.index(RULE) :]
        assert block[1] == "flexreg is ready"
        assert f"  API   http://127.0.0.1:{port}/api/v1" in block
        assert any(line.startswith(f"  Docs  http://127.0.0.1:{port}/schema") for line in block)
        assert all(
            any(line.startswith(f"  {username:20} {password}") for line in block) for username, password, *_ in STAFF
        )
        # It says so only once the service answers, and nothing of the database or granian follows it.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/activities", timeout=5) as response:
            assert response.status == 200
        time.sleep(0.5)
        after = []
        while not lines.empty():
            after.append(lines.get())
        # Only access-log lines: the request just made (on a busy machine, perhaps the readiness probe's too).
        assert all(line.startswith("INFO core.request_log: GET /") for line in after), after
        assert any(line.startswith("INFO core.request_log: GET /api/v1/activities 200 ") for line in after), after
        assert not any("pgserver" in line or "Running commandline" in line for line in output), output

        second = subprocess.run(
            [sys.executable, "-m", "flexreg.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            env=serve_env,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"127.0.0.1:{port} is already in use" in second.stderr
        assert server.poll() is None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        reader.join(timeout=5)
        if server.stdout is not None:
            server.stdout.close()
