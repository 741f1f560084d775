"""Real `flexreg serve` processes for races across app processes: N servers on free ports, one database.

Generic on purpose (road, pitch and round races share it): the caller gives the migrated database and the
suite's settings (their signing keys, so test tokens are accepted); rate limits are off, as many requests
come from one address at once. The servers run on the real clock, as in production: `Servers.now` is their
clock, from the `Date` header of their first answer, for tests to place periods and closes after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.settings import Settings

BIN = Path(sys.executable).parent
START_WITHIN_S = 90


@dataclass
class Servers:
    bases: list[str]
    database_url: str
    now: dt.datetime  # the servers' clock, from their Date header


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@contextlib.contextmanager
def serving(database_url: str, settings: Settings, var_dir: Path, count: int = 2) -> Iterator[Servers]:
    """`count` `flexreg serve` processes on free ports against `database_url`, stopped (by their own process
    groups) on exit; their logs are in `var_dir` and shown if one dies before answering."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLEXREG_VAR_DIR": str(var_dir),
        "FLEXREG_ENV": "development",
        "FLEXREG_TIMEZONE": settings.timezone,
        "FLEXREG_SECRET_KEY": settings.auth.secret_key.hex(),
        "FLEXREG_DATA_KEY": settings.data.data_key.hex(),
        "FLEXREG_RATE_LIMITS": "off",
    }
    servers: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        bases = []
        for index in range(count):
            port = _free_port()
            log = (var_dir / f"serve-{index}.log").open("wb")
            logs.append(log)
            servers.append(
                subprocess.Popen(
                    [str(BIN / "flexreg"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + START_WITHIN_S
        now: dt.datetime | None = None
        for index, base in enumerate(bases):
            while True:
                assert servers[index].poll() is None, (var_dir / f"serve-{index}.log").read_text()
                with contextlib.suppress(httpx.TransportError):
                    answer = httpx.get(f"{base}/api/v1/activities", timeout=2)
                    if answer.status_code == 200:
                        now = email.utils.parsedate_to_datetime(answer.headers["date"])
                        break
                assert time.monotonic() < deadline, f"the services did not start within {START_WITHIN_S} s"
                time.sleep(0.2)
        assert now is not None
        yield Servers(bases=bases, database_url=database_url, now=now)
    finally:
        for server in servers:
            _stop(server)
        for log in logs:
            log.close()
