"""Engine, sessions, the declarative base and turning constraint violations into domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import CheckConstraint, Executable, MetaData, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from core.chain_queue import ChainingSession
from core.embedded_pg import start_embedded_postgres
from core.errors import DomainError
from core.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: Iterable[str], *, name: str) -> CheckConstraint:
    """A CHECK that `column` holds one of `values`: derived from the enum's one source in code, never retyped."""
    listed = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def database_url(settings: Settings) -> str:
    """The libpq URL to use: DATABASE_URL, or the embedded server started on demand."""
    return settings.db.url or start_embedded_postgres(settings.var_dir)


def sqlalchemy_url(libpq_url: str) -> str:
    """Add the asyncpg driver to a plain postgresql:// URL (the driver is the service's business)."""
    parts = urlsplit(libpq_url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """One engine per process; server-side timeouts keep a stuck request from holding locks."""
    return create_async_engine(
        sqlalchemy_url(url or database_url(settings)),
        pool_size=settings.db.pool_size,
        max_overflow=settings.db.max_overflow,
        pool_timeout=settings.db.pool_timeout_seconds,
        # A logged DBAPI error shows the statement, never its values (ID numbers, names, password hashes).
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db.statement_timeout_ms),
                "lock_timeout": str(settings.db.lock_timeout_ms),
                "idle_in_transaction_session_timeout": "10000",
                "application_name": "flexreg",
            }
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The service's sessions: their commits write the hash-chain rows queued in them (core.chain_queue)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, sync_session_class=ChainingSession)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits when the caller finishes and rolls back if anything raised."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the violated constraint, as asyncpg reports it."""
    orig: Any = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return str(name)
    return None


# A named constraint and the refusal it means: a DomainError class, or a function building one with a message.
ConstraintErrors = Mapping[str, Callable[[], DomainError]]


def _translated(exc: IntegrityError, errors: ConstraintErrors) -> DomainError | None:
    make = errors.get(constraint_name(exc) or "")
    return make() if make is not None else None


async def flush_or_raise(session: AsyncSession, errors: ConstraintErrors) -> None:
    """Flush now, turning a named constraint violation into the matching domain error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        error = _translated(exc, errors)
        if error is None:
            raise
        raise error from None


async def execute_or_raise(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any] | None, errors: ConstraintErrors
) -> Result[Any]:
    """Run one statement on the request's session, turning a named constraint violation into a domain error.

    The twin of `flush_or_raise` for hand-written statements (a CTE that checks and inserts at once).
    """
    try:
        return await session.execute(statement, params)
    except IntegrityError as exc:
        error = _translated(exc, errors)
        if error is None:
            raise
        raise error from None


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction (BEGIN sent if need be).

    For a hot path that sends one hand-written statement without SQLAlchemy's statement layer: the statement
    runs in the request's transaction, so it commits or rolls back with everything else the request did.
    SQLAlchemy's asyncpg adapter begins its transaction lazily, at the first statement it sends itself; a
    statement sent straight to the driver before that would run in autocommit. So the adapter is asked to
    begin first (its `_start_transaction`, the step its own cursor takes; SQLAlchemy is pinned below 2.2).
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if getattr(adapter, "_transaction", None) is None:
        await adapter._start_transaction()
    if adapter._transaction is None:
        raise RuntimeError("the session's connection is in autocommit: a driver statement would escape it")
    return raw.driver_connection


async def fetchrow_or_raise(session: AsyncSession, sql: str, *args: Any, errors: ConstraintErrors) -> Any:
    """One hand-written statement (asyncpg `$n` parameters) on the session's connection and transaction; a
    named constraint violation becomes the matching domain error. Returns the first row, or None."""
    driver = await driver_connection(session)
    try:
        return await driver.fetchrow(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        make = errors.get(getattr(exc, "constraint_name", None) or "")
        if make is None:
            raise
        raise make() from None


async def recreate_database(server_url: str, name: str) -> str:
    """Drop and create a scratch database on this server (tests, bench); returns its libpq URL."""
    await drop_database(server_url, name)
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
