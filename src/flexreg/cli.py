"""The `flexreg` command: migrate, serve, demo, create-account, verify-draw, rotate-signing-key."""

from __future__ import annotations

import argparse
import asyncio
import errno
import http.client
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import urlsplit

from core.auth import StaffRole
from core.db import create_engine, create_sessionmaker, database_url, transaction
from core.errors import DomainError
from core.settings import Settings

if TYPE_CHECKING:
    from flexreg.demo import DemoCity

logger = logging.getLogger("flexreg")

ROOT = Path(__file__).resolve().parents[2]
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# How long `serve` waits for its first answer before giving up on printing the ready block.
READY_TIMEOUT_SECONDS = 120.0


class CannotListen(Exception):
    """`serve` cannot listen where it was asked to: the port is taken, or the address is not this machine's."""


def _settings_with_database() -> Settings:
    """Settings whose DATABASE_URL is resolved (starting the embedded server if needed) and exported.

    Exporting it lets granian's worker processes, which build their own settings, reach the same server.
    """
    settings = Settings.from_env()
    url = database_url(settings)
    os.environ["DATABASE_URL"] = url
    return Settings.from_env()


def migrate(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = settings.db.url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


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


def granian_logging() -> dict[str, Any]:
    """Logging for granian's main and worker processes: the service's lines as the CLI prints them.

    Granian's own startup lines are kept to warnings (the ready block says where it listens) and its access log
    is off: `core.request_log` writes the one line per request.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "_granian": {"level": "WARNING"},
            "granian.access": {"level": "WARNING"},
            "pgserver": {"level": "WARNING"},
        },
    }


def serve(settings: Settings, host: str, port: int, workers: int, *, demo: bool = False) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    migrate(settings)
    city = asyncio.run(_demo(settings)) if demo else None
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
        log_dictconfig=granian_logging(),
        log_access=False,
    )
    # Announced from the main process once a worker answers, so it is the last thing a new user reads.
    server.on_startup(
        lambda: threading.Thread(
            target=_announce_when_ready, args=(url, ready_block(url, demo=demo, city=city)), daemon=True
        ).start()
    )
    server.serve()


async def _create_account(settings: Settings, args: argparse.Namespace) -> None:
    from registry import accounts
    from registry.catalogue import load_catalogue

    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            account = await accounts.open_account(
                session,
                username=args.username,
                password=args.password,
                role=args.role,
                jurisdiction_code=args.jurisdiction,
                department_code=args.department,
                known_departments=load_catalogue().department_codes,
            )
            print(f"created {account.role} account {account.username} ({account.id})")  # noqa: T201
    finally:
        await engine.dispose()


async def _rotate_signing_key(settings: Settings) -> None:
    """Retire the permits' active signing key and make a new one; retired keys stay in the JWKS."""
    from core.crypto import FieldCipher
    from permits import signing

    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            kid = await signing.rotate_signing_key(session, FieldCipher(settings.data.data_key), now=settings.now())
        print(f"new permit signing key {kid}; earlier keys stay published for the tokens they signed")  # noqa: T201
    finally:
        await engine.dispose()


async def _demo(settings: Settings) -> DemoCity:
    from flexreg.demo import build_demo_city

    engine = create_engine(settings)
    try:
        return await build_demo_city(create_sessionmaker(engine), settings)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    parser = argparse.ArgumentParser(prog="flexreg", description="Flexible-employment registry service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_parser = commands.add_parser("serve", help="migrate, then serve the API with granian")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1)
    serve_parser.add_argument("--demo", action="store_true", help="build the demo city first; list its accounts")
    commands.add_parser("demo", help="build the demo city (idempotent) and print its accounts")
    account_parser = commands.add_parser("create-account", help="open an account")
    # Vendors sign up (POST /vendors): their account comes with the profile it exists for.
    account_parser.add_argument("--role", required=True, choices=get_args(StaffRole))
    account_parser.add_argument("--username", required=True)
    account_parser.add_argument("--password", required=True)
    account_parser.add_argument("--jurisdiction")
    account_parser.add_argument("--department")
    verify_parser = commands.add_parser("verify-draw", help="recompute an allocation draw from its public results")
    verify_parser.add_argument("source", metavar="URL-or-file", help="the results JSON: an http(s) URL or a file")
    commands.add_parser(
        "rotate-signing-key", help="retire the permits' signing key for a new one (old keys stay published)"
    )
    args = parser.parse_args(argv)
    if args.command == "verify-draw":
        return _verify_draw(args.source)  # needs no database

    # Alembic announces every autogenerate plugin at INFO; keep its migration lines only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            check_port_free(args.host, args.port)  # before the database starts: fail fast
        settings = _settings_with_database()
        _run(args, settings)
    except CannotListen as exc:
        print(f"flexreg {args.command}: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    except DomainError as exc:
        print(f"flexreg {args.command}: {exc.detail}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def _verify_draw(source: str) -> int:
    """0 when the results recompute exactly, 1 (listing each mismatch) when not, 2 when unreadable."""
    from flexreg.verify_draw import UnreadableResults, load, verify

    try:
        results = load(source)
    except UnreadableResults as exc:
        print(f"flexreg verify-draw: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    verdict = verify(results)
    if verdict.matches:
        print("the draw matches: every key, the digest, the order, the assignments and the waiting list")  # noqa: T201
        return 0
    for mismatch in verdict.mismatches:
        print(f"mismatch {mismatch}")  # noqa: T201
    print(f"the draw does not match ({len(verdict.mismatches)} mismatches)")  # noqa: T201
    return 1


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        serve(settings, args.host, args.port, args.workers, demo=args.demo)
    elif args.command == "demo":
        from flexreg.demo import account_lines, city_lines

        migrate(settings)
        city = asyncio.run(_demo(settings))
        print("\n".join(["", *account_lines(), "", *city_lines(city)]))  # noqa: T201
    elif args.command == "create-account":
        asyncio.run(_create_account(settings, args))
    elif args.command == "rotate-signing-key":
        asyncio.run(_rotate_signing_key(settings))


if __name__ == "__main__":
    sys.exit(main())
