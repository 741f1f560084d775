"""`flexreg serve`'s process work: the port probe, granian and its logging, the worker beside it, the ready block.

The command line (flexreg.cli) migrates and builds the demo city first, then hands over to `run_server`.
"""

from __future__ import annotations

import errno
import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core import logs, metrics
from core.settings import LogFormat, Settings

if TYPE_CHECKING:
    from flexreg.demo import DemoCity

logger = logging.getLogger("flexreg")

# How long `serve` waits for its first answer before giving up on printing the ready block.
READY_TIMEOUT_SECONDS = 120.0
# How long `serve` gives its worker to finish the job in hand once the server stops.
WORKER_STOP_SECONDS = 20.0


class CannotListen(Exception):
    """`serve` cannot listen where it was asked to: the port is taken, or the address is not this machine's."""


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on, before starting anything.

    Granian binds with SO_REUSEPORT, so a second server on a taken port would start without complaint and the
    kernel would split the connections between the two. This probe binds without it (SO_REUSEADDR only lets
    it reuse a port whose old connections linger in TIME_WAIT), which fails while any socket listens there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise CannotListen(f"cannot listen on {_address(host, port)}: {exc.strerror or exc}") from None
            raise CannotListen(
                f"{_address(host, port)} is already in use: is flexreg already running? "
                f"Stop it, or choose another port (flexreg serve --port {port + 1}; make run PORT={port + 1})"
            ) from None


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def base_url(host: str, port: int) -> str:
    """The address to show and to probe: a wildcard host is reached on loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104 (a mapping, not a bind)
    return f"http://{_address(shown, port)}"


def ready_block(url: str, *, demo: bool, city: DemoCity | None = None) -> str:
    """What a person starting the service needs: where the API and its docs are, the demo accounts and places."""
    from flexreg import demo as demo_city

    lines = [
        "",
        "=" * 72,
        "flexreg is ready",
        f"  API   {url}/api/v1",
        f"  Docs  {url}/schema   (OpenAPI document: {url}/schema/openapi.json)",
        f"  Console {url}/console   (staff: street offices, departments, admin; a permit's page: {url}/verify/NUMBER)",
    ]
    if demo:
        lines += ["", *demo_city.account_lines()]
    if city is not None:
        lines += ["", *demo_city.city_lines(city, url)]
    lines += ["", "Stop with Ctrl-C.", "=" * 72]
    return "\n".join(lines)


def wait_until_answering(url: str, timeout: float) -> bool:
    """Whether the service at `url` answers its OpenAPI document within `timeout` seconds."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=2)
        try:
            connection.request("GET", "/schema/openapi.json")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    return False


def _announce_when_ready(url: str, block: str) -> None:
    if wait_until_answering(url, READY_TIMEOUT_SECONDS):
        time.sleep(0.3)  # let the worker write the probe's access-log line first: the block stays last
        print(block, flush=True)  # noqa: T201
    else:
        logger.error("the service did not answer on %s within %.0f s", url, READY_TIMEOUT_SECONDS)


def granian_logging(log_format: LogFormat = "text") -> dict[str, Any]:
    """Logging for granian's main and worker processes: the service's lines as the CLI prints them.

    Granian's own startup lines are kept to warnings (the ready block says where it listens) and its access log
    is off: `core.request_log` writes the one line per request.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": logs.formatter_config(log_format)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "_granian": {"level": "WARNING"},
            "granian.access": {"level": "WARNING"},
            "pgserver": {"level": "WARNING"},
        },
    }


def start_worker() -> subprocess.Popen[bytes]:
    """`flexreg worker` as a child process, on the DATABASE_URL `serve` resolved and exported.

    One per `serve`: the periodic jobs run once per period however many there are (core.jobs), and a worker
    of its own keeps a job's failure or a long sweep out of the HTTP workers.
    """
    return subprocess.Popen([sys.executable, "-m", "flexreg.cli", "worker", "--quiet"], env=os.environ.copy())


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("the worker did not stop within %.0f s; killed", WORKER_STOP_SECONDS)
            worker.kill()
            worker.wait()


def run_server(
    settings: Settings, host: str, port: int, workers: int, *, demo: bool, city: DemoCity | None, with_worker: bool
) -> None:
    """Serve the app with granian until stopped (SIGINT/SIGTERM), with a periodic-job worker beside it."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    # Before any worker starts: each writes its metrics under it, a scrape of any worker adds them all up.
    metrics.prepare_multiprocess_dir(settings.var_dir / "prometheus")
    url = base_url(host, port)
    logger.info("starting on %s (%s worker%s)", url, workers, "" if workers == 1 else "s")
    server = Granian(
        "flexreg.app:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        log_dictconfig=granian_logging(settings.ops.log_format),
        log_access=False,
        # SIGTERM: each worker stops accepting, finishes the requests in flight, then runs the app's shutdown
        # (the database pool closes); a worker still busy after this long is killed.
        workers_kill_timeout=settings.ops.shutdown_timeout_seconds,
    )
    # Announced from the main process once a worker answers, so it is the last thing a new user reads.
    server.on_startup(
        lambda: threading.Thread(
            target=_announce_when_ready, args=(url, ready_block(url, demo=demo, city=city)), daemon=True
        ).start()
    )
    worker = start_worker() if with_worker else None
    try:
        server.serve()
    finally:
        if worker is not None:
            stop_worker(worker)
