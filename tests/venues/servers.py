"""Real `flexreg serve` processes for the cross-process race tests: N servers on free ports, one database.

    with flexreg_servers(database_url, settings, tmp_path, count=2) as served:
        ... httpx.AsyncClient(base_url=served.bases[i % 2]) ...

The servers run on the real clock (as in production), not the suite's fixed one: `served.now` is their clock,
read from the `Date` header of their first answer, for tests that must build dates the servers accept.
Rate limits are off (FLEXREG_RATE_LIMITS=off): a race sends more requests at once than any limit allows.
Each server runs in its own process group and is stopped (SIGTERM, then SIGKILL) when the block ends.
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.settings import Settings

BIN = Path(sys.executable).parent
STARTUP_S = 90.0  # how long servers may take to answer, all together (migrations are not theirs to run)
READY_PATH = "/api/v1/activities"  # public, needs the database: answering it means the server is ready


@dataclass(frozen=True)
class Served:
    bases: list[str]  # http://127.0.0.1:<port>, one per server, in start order
    database_url: str
    now: dt.datetime  # the servers' clock, from their Date header (whole seconds)


def free_port() -> int:
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
def flexreg_servers(
    database_url: str, settings: Settings, var_dir: Path, *, count: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[Served]:
    """`count` `flexreg serve` processes on free ports against `database_url` (already migrated), signing
    and encrypting with `settings`' keys so the suite's tokens and fixtures work against them.

    Yields once every server answers READY_PATH; a server that exits meanwhile fails with its log.
    """
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLEXREG_VAR_DIR": str(var_dir),
        "FLEXREG_ENV": "development",
        "FLEXREG_TIMEZONE": settings.timezone,
        "FLEXREG_SECRET_KEY": settings.auth.secret_key.hex(),
        "FLEXREG_DATA_KEY": settings.data.data_key.hex(),
        "FLEXREG_RATE_LIMITS": "off",
        **(env or {}),
    }
    servers: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        bases = []
        for index in range(count):
            port = free_port()
            log = (var_dir / f"serve-{index}.log").open("wb")
            logs.append(log)
            servers.append(
                subprocess.Popen(
                    [str(BIN / "flexreg"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + STARTUP_S
        now: dt.datetime | None = None
        for index, base in enumerate(bases):
            while True:
                assert servers[index].poll() is None, (var_dir / f"serve-{index}.log").read_text()
                with contextlib.suppress(httpx.TransportError):
                    answer = httpx.get(f"{base}{READY_PATH}", timeout=2)
                    if answer.status_code == 200:
                        now = email.utils.parsedate_to_datetime(answer.headers["date"])
                        break
                assert time.monotonic() < deadline, f"the services did not start within {STARTUP_S:.0f} s"
                time.sleep(0.2)
        assert now is not None
        yield Served(bases=bases, database_url=database_url, now=now)
    finally:
        for server in servers:
            _stop(server)
        for log in logs:
            log.close()
