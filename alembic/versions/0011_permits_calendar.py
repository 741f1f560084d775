"""Working-day calendar (loaded State Council schedules, provincial overrides, change counter) and the job
queue's schema.

The job queue is procrastinate's: its schema is procrastinate 3.10.0's `schema.sql`, vendored beside the
migrations (alembic/sql/) so this revision never changes when the package does (tests/permits/test_jobs.py
checks the vendored file against the installed package: an upgrade needs a new revision applying
procrastinate's own migration scripts). It needs PL/pgSQL only, which every PostgreSQL has; procrastinate's
tables are left out of autogenerate's comparison (alembic/env.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-20
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.util import await_

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_SCHEMA = Path(__file__).resolve().parents[1] / "sql" / "procrastinate-3.10.0-schema.sql"


def upgrade() -> None:
    op.create_table(
        "permits_calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("makeup_workdays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_permits_calendar_year_year_range")),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_permits_calendar_year")),
    )
    op.create_table(
        "permits_calendar_override",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("region ~ '^[1-8][0-9]$'", name=op.f("ck_permits_calendar_override_region_province")),
        sa.CheckConstraint("length(btrim(reason)) > 0", name=op.f("ck_permits_calendar_override_reason_given")),
        sa.CheckConstraint("kind IN ('rest', 'work')", name=op.f("ck_permits_calendar_override_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_calendar_override")),
        sa.UniqueConstraint("region", "day", name=op.f("uq_permits_calendar_override_region_day")),
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("permits_calendar_version_seq")))
    op.create_table(
        "permits_calendar_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_permits_calendar_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits_calendar_version")),
    )
    op.execute("INSERT INTO permits_calendar_version (id, version) VALUES (1, 0)")
    _run_script(PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    script = PROCRASTINATE_SCHEMA.read_text(encoding="utf-8")
    for kind in ("TABLE", "FUNCTION", "TYPE"):
        for name in reversed(re.findall(rf"^CREATE {kind} (\w+)", script, flags=re.MULTILINE)):
            op.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
    op.drop_table("permits_calendar_version")
    op.execute(sa.schema.DropSequence(sa.Sequence("permits_calendar_version_seq")))
    op.drop_table("permits_calendar_override")
    op.drop_table("permits_calendar_year")


def _run_script(script: str) -> None:
    """Run a multi-statement script in the migration's transaction.

    SQLAlchemy's asyncpg adapter prepares every statement, and a prepared statement holds one command; the
    driver's own `execute` without arguments sends the script as one simple query. The statements above have
    begun the adapter's transaction, so the script runs inside it.
    """
    adapter: Any = op.get_bind().connection.dbapi_connection
    if getattr(adapter, "_transaction", None) is None:
        raise RuntimeError("the migration's connection is in autocommit: the script would escape its transaction")
    await_(adapter.driver_connection.execute(script))
