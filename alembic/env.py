"""Alembic, async: runs against DATABASE_URL (or the embedded server) or a connection handed in by tests."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import core.idempotency
import core.rate_limits  # noqa: F401
import permits.calendar_models
import permits.exemption_models
import permits.history_models
import permits.issued_models
import permits.models  # noqa: F401
import registry.models  # noqa: F401  (every domain's tables must be imported for autogenerate)
import venues.models  # noqa: F401
from core.db import Base, database_url, sqlalchemy_url
from core.jobs import include_in_autogenerate
from core.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_in_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = config.attributes.get("url") or database_url(Settings.from_env())
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    asyncio.run(run_async())
