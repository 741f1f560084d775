"""Migrations: one head, reversible, and in agreement with the models."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.db import Base, drop_database, recreate_database, sqlalchemy_url
from core.jobs import include_in_autogenerate
from tests.conftest import ROOT


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def test_single_head_and_readable_ids() -> None:
    script = ScriptDirectory.from_config(_config("postgresql://unused/x"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.revision.isdigit(), revision.revision
        assert len(revision.revision) == 4, revision.revision
        assert Path(revision.path).name.startswith(revision.revision + "_")


async def test_upgrade_downgrade_upgrade_and_models_agree(server_url: str) -> None:
    name = f"flexreg_migration_check_{os.getpid()}"  # per run: other checkouts may test on the same server
    url = await recreate_database(server_url, name)
    config = _config(url)
    try:
        await asyncio.to_thread(command.upgrade, config, "head")
        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, "head")
        engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                differences = await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"include_name": include_in_autogenerate}),
                        Base.metadata,
                    )
                )
        finally:
            await engine.dispose()
        assert differences == [], f"models and migrations disagree: {differences}"
    finally:
        await drop_database(server_url, name)


_LITERAL = re.compile(r"'((?:[^']|'')*)'")


async def test_check_constraints_of_the_database_hold_the_models_values(database_url: str) -> None:
    """Autogenerate does not compare CHECK constraints: a value added to an enum's Literal (and so to its
    derived `one_of` CHECK) without a migration would pass `alembic check` and then refuse inserts. Every
    CHECK of the models must name the same quoted values as the migrated database's constraint."""
    expected: dict[str, set[str]] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                name = str(constraint.name)
                expected[name] = set(_LITERAL.findall(str(constraint.sqltext)))
    engine = create_async_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
                )
            ).all()
    finally:
        await engine.dispose()
    actual = {name: set(_LITERAL.findall(definition)) for name, definition in rows}
    missing = sorted(set(expected) - set(actual))
    assert missing == [], f"CHECK constraints of the models missing from the database: {missing}"
    differing = {name: (values, actual[name]) for name, values in expected.items() if actual[name] != values}
    assert differing == {}, f"CHECK constraints whose values differ (models, database): {differing}"
