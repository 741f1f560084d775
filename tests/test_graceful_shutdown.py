"""`flexreg serve` in production shape: several workers, JSON logs, /ready, metrics added up across workers,
and SIGTERM finishing the request in flight before the process exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.db import drop_database, recreate_database

NAME = f"flexreg_shutdown_check_{os.getpid()}"
HEALTH_CALLS = 20


@pytest.fixture
def serve_env(server_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    url = asyncio.run(recreate_database(server_url, NAME))
    try:
        yield {**os.environ, "DATABASE_URL": url, "FLEXREG_VAR_DIR": str(tmp_path), "FLEXREG_LOG_FORMAT": "json"}
    finally:
        asyncio.run(drop_database(server_url, NAME))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_ready(url: str, server: subprocess.Popen[str], output: list[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, "\n".join(output)
        try:
            if _get(f"{url}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail("not ready within 120 s:\n" + "\n".join(output))


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(serve_env: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "flexreg.cli", "serve", "--demo", "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=serve_env,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    reader = threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in server.stdout or ()])
    reader.start()
    try:
        _wait_ready(url, server, output)
        assert _get(f"{url}/health") == (200, b'{"status":"ok"}')

        # Two workers answer; each writes its own metric files, and a scrape of either adds them all up.
        for _ in range(HEALTH_CALLS - 1):
            assert _get(f"{url}/health")[0] == 200
        status, body = _get(f"{url}/metrics")
        assert status == 200
        counted = [
            sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name == "flexreg_http_requests_total" and sample.labels.get("route") == "/health"
        ]
        assert counted == [HEALTH_CALLS]
        assert any((tmp_path / "prometheus" / str(server.pid)).glob("counter_*.db"))

        # A sign-in whose body is still on its way when SIGTERM arrives.
        credentials = json.dumps({"username": "demo_admin", "password": "demo-admin-pass"}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
            slow.sendall(
                b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(credentials)}\r\nConnection: close\r\n\r\n".encode()
                + credentials[:10]
            )
            time.sleep(0.5)  # the request is in the worker's hands (not a threshold: any delay shows the same)
            os.kill(server.pid, signal.SIGTERM)
            time.sleep(1.0)  # the shutdown is under way before the rest of the body arrives
            slow.sendall(credentials[10:])
            answer = b""
            while chunk := slow.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), answer
        assert json.loads(payload)["token_type"] == "bearer"
        assert server.wait(timeout=60) == 0
        reader.join(timeout=10)
        while not lines.empty():
            output.append(lines.get())
        # The service's lines are JSON objects, the sign-in's access line among them; the ready block is for people.
        logged = [json.loads(line) for line in output if line.startswith("{")]
        (sign_in,) = [entry for entry in logged if entry.get("route") == "/api/v1/auth/token"]
        assert sign_in["status"] == 200
        # It was in the app's hands across the SIGTERM: it lasted at least the 1.5 s this test waited inside it.
        assert sign_in["duration_ms"] >= 1500, sign_in
        assert not [entry for entry in logged if entry["level"] in ("ERROR", "CRITICAL")], output
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        reader.join(timeout=5)
        if server.stdout is not None:
            server.stdout.close()
