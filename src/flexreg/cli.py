"""The `flexreg` command: migrate, serve, worker, demo, create-account, verify-draw, verify-audit, load-calendar,
add-calendar-override, rotate-signing-key."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from core import logs
from core.auth import StaffRole
from core.db import create_engine, create_sessionmaker, database_url, transaction
from core.errors import DomainError
from core.settings import Settings, log_format_from_env
from flexreg.serving import CannotListen, check_port_free, run_server

if TYPE_CHECKING:
    from flexreg.demo import DemoCity
    from permits.calendar_store import Override, ScheduleFile

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


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    *,
    demo: bool = False,
    with_worker: bool = True,
    with_migrate: bool = True,
) -> None:
    if with_migrate:
        migrate(settings)
    city = asyncio.run(_demo(settings)) if demo else None
    run_server(settings, host, port, workers, demo=demo, city=city, with_worker=with_worker)


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


async def _load_calendar(settings: Settings, loaded: ScheduleFile) -> None:
    import flexreg.jobs  # noqa: F401  (registers what a loaded year recomputes)
    from permits.calendar_store import load_year

    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await load_year(session, loaded, now=settings.now())
    finally:
        await engine.dispose()
    schedule = loaded.schedule
    print(  # noqa: T201
        f"loaded {schedule.year}: {len(schedule.holidays)} rest days, {len(schedule.workdays)} make-up working days "
        f"({loaded.source})"
    )


async def _add_overrides(settings: Settings, overrides: list[Override]) -> None:
    import flexreg.jobs  # noqa: F401  (registers what an override recomputes)
    from permits.calendar_store import add_overrides

    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await add_overrides(session, overrides)
    finally:
        await engine.dispose()
    for override in overrides:
        print(f"region {override.region} {override.day}: {override.kind} day ({override.reason})")  # noqa: T201


def _calendar_input(args: argparse.Namespace) -> int:
    """Read and check a calendar command's input before any database starts; 2 (with the reasons) if refused."""
    from permits.calendar_store import CalendarFileError, make_override, parse_overrides, parse_schedule

    try:
        if args.command == "load-calendar":
            args.schedule = parse_schedule(Path(args.file).read_bytes())
            for warning in args.schedule.warnings:
                print(f"flexreg load-calendar: warning: {warning}", file=sys.stderr)  # noqa: T201
        elif args.file is not None:
            args.overrides = parse_overrides(Path(args.file).read_bytes())
        elif None in (args.region, args.date, args.kind, args.reason):
            raise CalendarFileError("give --file, or all of --region, --date, --kind and --reason")
        else:
            args.overrides = [make_override(args.region, args.date, args.kind, args.reason)]
    except (CalendarFileError, OSError) as exc:
        print(f"flexreg {args.command}: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The command line: its commands and their options (tests check deployment files against it)."""
    parser = argparse.ArgumentParser(prog="flexreg", description="Flexible-employment registry service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_parser = commands.add_parser("serve", help="migrate, then serve the API with granian")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1)
    serve_parser.add_argument("--demo", action="store_true", help="build the demo city first; list its accounts")
    serve_parser.add_argument("--no-worker", action="store_true", help="do not start the periodic-job worker")
    # Several replicas must not race to migrate: a deployment runs `flexreg migrate` once, then the replicas.
    serve_parser.add_argument(
        "--no-migrate", action="store_true", help="do not apply migrations first (a one-shot `migrate` did)"
    )
    worker_parser = commands.add_parser("worker", help="run the periodic jobs (deadline sweeps, …) until stopped")
    # `serve` starts its worker quiet: the ready block stays the last thing a new user reads.
    worker_parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    calendar_parser = commands.add_parser("load-calendar", help="load a year's State Council holiday schedule")
    calendar_parser.add_argument("file", help="TOML: year, source, holidays, makeup_workdays")
    override_parser = commands.add_parser(
        "add-calendar-override", help="add a province's own rest or working day (a typhoon closure, a festival)"
    )
    override_parser.add_argument("--file", help="TOML of [[override]] tables: region, date, kind, reason")
    override_parser.add_argument("--region", help="the province's 2-digit division code, e.g. 45")
    override_parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD")
    override_parser.add_argument("--kind", choices=("rest", "work"))
    override_parser.add_argument("--reason")
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
    audit_parser = commands.add_parser(
        "verify-audit", help="recompute the hash chains (permits history, personal-data access log) from row 1"
    )
    audit_parser.add_argument(
        "--anchors",
        type=Path,
        action="append",
        default=[],
        help="anchors kept outside: the JSON GET /history-anchors returns (a page, or a list of anchors); repeatable",
    )
    audit_parser.add_argument(
        "--access-anchors",
        type=Path,
        action="append",
        default=[],
        help="the access log's anchors kept outside: the JSON GET /access-log-anchors returns; repeatable",
    )
    audit_parser.add_argument(
        "--keys", type=Path, help="a JWKS document (GET /permit-signing-keys): also check each anchor's signature"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.configure(log_format_from_env())
    args = build_parser().parse_args(argv)
    if args.command == "verify-draw":
        return _verify_draw(args.source)  # needs no database
    if args.command in ("load-calendar", "add-calendar-override") and (refused := _calendar_input(args)):
        return refused

    # Alembic announces every autogenerate plugin at INFO; keep its migration lines only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            check_port_free(args.host, args.port)  # before the database starts: fail fast
        settings = _settings_with_database()
        if args.command == "verify-audit":
            return asyncio.run(_verify_audit(settings, args.anchors, args.access_anchors, args.keys))
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


async def _verify_audit(
    settings: Settings, anchors_files: list[Path], access_anchors_files: list[Path], keys_file: Path | None
) -> int:
    """Both chains, each against its anchors (the table's and copies kept outside): the permits history and the
    personal-data access log. 0 when both hold, 1 naming the first row that does not in either, 2 when a file
    is unreadable."""
    from core.chain_anchors import UnreadableAnchors, load_anchors, load_public_keys
    from permits import anchors, history_verify
    from registry import access_log_anchors
    from registry.access_log import verify_access_log

    try:
        outside = [a for path in anchors_files for a in load_anchors(path, on_partial=_warn)]
        access_outside = [a for path in access_anchors_files for a in load_anchors(path, on_partial=_warn)]
        keys = load_public_keys(keys_file) if keys_file is not None else None
    except UnreadableAnchors as exc:
        print(f"flexreg verify-audit: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            kept = await anchors.all_anchors(session)
            verdict = await history_verify.verify_history(session, anchors=[*kept, *outside], public_keys=keys)
            access_kept = await access_log_anchors.all_anchors(session)
            access = await verify_access_log(session, anchors=[*access_kept, *access_outside], public_keys=keys)
    finally:
        await engine.dispose()
    print(verdict.summary(), file=sys.stdout if verdict.intact else sys.stderr)
    print(access.summary(), file=sys.stdout if access.intact else sys.stderr)
    return 0 if verdict.intact and access.intact else 1


def _warn(message: str) -> None:
    print(f"flexreg verify-audit: warning: {message}", file=sys.stderr)  # noqa: T201


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "serve":
        serve(
            settings,
            args.host,
            args.port,
            args.workers,
            demo=args.demo,
            with_worker=not args.no_worker,
            with_migrate=not args.no_migrate,
        )
    elif args.command == "worker":
        from core.jobs import run_worker
        from flexreg.jobs import PERIODIC_JOBS

        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        if args.quiet:
            logging.getLogger().setLevel(logging.WARNING)
        asyncio.run(run_worker(settings, PERIODIC_JOBS))
    elif args.command == "load-calendar":
        asyncio.run(_load_calendar(settings, args.schedule))
    elif args.command == "add-calendar-override":
        asyncio.run(_add_overrides(settings, args.overrides))
    elif args.command == "rotate-signing-key":
        asyncio.run(_rotate_signing_key(settings))
    elif args.command == "demo":
        from flexreg.demo import account_lines, city_lines

        migrate(settings)
        city = asyncio.run(_demo(settings))
        print("\n".join(["", *account_lines(), "", *city_lines(city)]))  # noqa: T201
    elif args.command == "create-account":
        asyncio.run(_create_account(settings, args))


if __name__ == "__main__":
    sys.exit(main())
