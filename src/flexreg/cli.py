"""The `flexreg` command: migrate, serve, demo, create-account."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import get_args

from core.auth import StaffRole
from core.db import create_engine, create_sessionmaker, database_url, transaction
from core.errors import DomainError
from core.settings import Settings

logger = logging.getLogger("flexreg")

ROOT = Path(__file__).resolve().parents[2]


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


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    migrate(settings)
    logger.info("serving on http://%s:%s (%s worker%s)", host, port, workers, "" if workers == 1 else "s")
    Granian(
        "flexreg.app:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
    ).serve()


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


async def _demo(settings: Settings) -> None:
    from flexreg.demo import build_demo_city

    engine = create_engine(settings)
    try:
        await build_demo_city(create_sessionmaker(engine), settings)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="flexreg", description="Flexible-employment registry service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_parser = commands.add_parser("serve", help="migrate, then serve the API with granian")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1)
    commands.add_parser("demo", help="build the demo city (idempotent) and print its accounts")
    account_parser = commands.add_parser("create-account", help="open an account")
    # Vendors sign up (POST /vendors): their account comes with the profile it exists for.
    account_parser.add_argument("--role", required=True, choices=get_args(StaffRole))
    account_parser.add_argument("--username", required=True)
    account_parser.add_argument("--password", required=True)
    account_parser.add_argument("--jurisdiction")
    account_parser.add_argument("--department")
    args = parser.parse_args(argv)

    # Alembic announces every autogenerate plugin at INFO; keep its migration lines only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    settings = _settings_with_database()
    try:
        _run(args, settings)
    except DomainError as exc:
        print(f"flexreg {args.command}: {exc.detail}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        serve(settings, args.host, args.port, args.workers)
    elif args.command == "demo":
        migrate(settings)
        asyncio.run(_demo(settings))
    elif args.command == "create-account":
        asyncio.run(_create_account(settings, args))


if __name__ == "__main__":
    sys.exit(main())
