"""The service for the browser tests: the real app on a real port, its clock fixed at the instant given.

Run by tests/e2e/conftest.py as `python -m tests.e2e.live_server --port P --now ISO` with the environment
naming the database and keys; it prints `ready` once it listens. granian's embedded server runs the app
object itself, so the test's FixedClock reaches every handler, as FixedClock does in the in-process tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal

import msgspec
from granian.constants import Interfaces
from granian.server.embed import Server

from core.clock import FixedClock
from core.settings import Settings
from flexreg.app import create_app


async def serve(port: int, now: dt.datetime) -> None:
    settings = msgspec.structs.replace(Settings.from_env(), clock=FixedClock(now))
    server = Server(create_app(settings), address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, server.stop)
    loop.call_later(0.5, lambda: print("ready", flush=True))  # noqa: T201 (the fixture waits for the port itself)
    await server.serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--now", type=dt.datetime.fromisoformat, required=True)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(arguments.port, arguments.now))


if __name__ == "__main__":
    main()
