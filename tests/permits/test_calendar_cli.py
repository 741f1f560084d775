"""`flexreg load-calendar` and `flexreg add-calendar-override` against a real (scratch) database."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from core.db import drop_database
from flexreg.cli import main
from tests.conftest import migrated_database

NAME = f"flexreg_calendar_cli_{os.getpid()}"
FICTIONAL_2027 = Path(__file__).parent / "data" / "fictional-2027.toml"


@pytest.fixture
def scratch_env(server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = asyncio.run(migrated_database(server_url, NAME))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server_url, NAME))


def _fetch(url: str, sql: str) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url)
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    return asyncio.run(fetch())


def test_a_schedule_and_an_override_are_loaded_from_the_command_line(
    scratch_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["load-calendar", str(FICTIONAL_2027)]) == 0
    assert "loaded 2027: 29 rest days, 5 make-up working days" in capsys.readouterr().out
    [year] = _fetch(scratch_env, "SELECT year, source, cardinality(holidays) AS n FROM permits_calendar_year")
    assert (year["year"], year["n"]) == (2027, 29)
    assert year["source"].startswith("FICTIONAL")
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(
        '[[override]]\nregion = "44"\ndate = 2027-09-14\nkind = "rest"\nreason = "台风停工 (test)"\n'
        '[[override]]\nregion = "45"\ndate = 2027-04-09\nkind = "rest"\nreason = "三月三 (test date)"\n'
    )
    assert main(["add-calendar-override", "--file", str(overrides)]) == 0
    assert (
        main(["add-calendar-override", "--region", "44", "--date", "2027-09-18", "--kind", "work", "--reason", "补班"])
        == 0
    )
    rows = _fetch(scratch_env, "SELECT region, day, kind FROM permits_calendar_override ORDER BY day")
    assert [(r["region"], r["day"], r["kind"]) for r in rows] == [
        ("45", dt.date(2027, 4, 9), "rest"),
        ("44", dt.date(2027, 9, 14), "rest"),
        ("44", dt.date(2027, 9, 18), "work"),
    ]
    [version] = _fetch(scratch_env, "SELECT version FROM permits_calendar_version")
    assert version["version"] > 0
