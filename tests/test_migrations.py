"""Migrations: one head, reversible, and in agreement with the models."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.db import Base, drop_database, recreate_database, sqlalchemy_url
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
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()
        assert differences == [], f"models and migrations disagree: {differences}"
    finally:
        await drop_database(server_url, name)
