"""The service for the browser tests: the real app on a real port, its clock fixed at the instant given.

Run by tests/e2e/conftest.py as `python -m tests.e2e.live_server --port P --clock-file F` with the
environment naming the database and keys; it prints `ready` once it listens. granian's embedded server runs the
app object itself, so the clock reaches every handler. The clock stands at the instant the file holds (ISO
8601); a test moves it by rewriting the file (`LiveService.set_time`), e.g. past a round's close.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
from pathlib import Path

import msgspec
from granian.constants import Interfaces
from granian.server.embed import Server

from core.settings import Settings
from flexreg.app import create_app


class FileClock:
    """Stands at the instant written in a file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[float, dt.datetime] | None = None

    def now(self) -> dt.datetime:
        stamp = self._path.stat().st_mtime_ns
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, dt.datetime.fromisoformat(self._path.read_text().strip()).astimezone(dt.UTC))
        return self._seen[1]


async def serve(port: int, clock_file: Path) -> None:
    settings = msgspec.structs.replace(Settings.from_env(), clock=FileClock(clock_file))
    server = Server(create_app(settings), address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, server.stop)
    loop.call_later(0.5, lambda: print("ready", flush=True))  # noqa: T201 (the fixture waits for the port itself)
    await server.serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(arguments.port, arguments.clock_file))


if __name__ == "__main__":
    main()
