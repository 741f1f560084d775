"""The flexreg command against a database of its own: migrate, demo (twice), create-account."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from core.db import drop_database, recreate_database
from flexreg.cli import main

NAME = "flexreg_cli_check"


@pytest.fixture
def cli_database(server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[str]:
    url = asyncio.run(recreate_database(server_url, NAME))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FLEXREG_VAR_DIR", str(tmp_path))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server_url, NAME))


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def test_cli_commands(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0
    accounts = asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account"))
    assert (
        main(
            [
                "create-account",
                "--role",
                "department",
                "--username",
                "rev_fire",
                "--password",
                "long enough",
                "--department",
                "fire_rescue",
            ]
        )
        == 0
    )
    assert asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account")) == accounts + 1
    assert (
        main(
            [
                "create-account",
                "--role",
                "street_office",
                "--username",
                "nowhere",
                "--password",
                "long enough",
                "--jurisdiction",
                "999999999999",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert "created department account rev_fire" in captured.out
    assert "999999999999 does not exist" in captured.err
    assert "Traceback" not in captured.err


def test_create_account_keeps_the_apis_rules(cli_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The password rule of POST /accounts, and no vendor account without its profile (vendors sign up)."""
    assert main(["migrate"]) == 0
    weak = ["create-account", "--role", "admin", "--username", "weak_admin", "--password", "abc"]
    assert main(weak) == 2
    assert "password: must be 8 to 128 characters long" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["create-account", "--role", "vendor", "--username", "orphan", "--password", "long enough"])
    assert refused.value.code == 2
    assert "invalid choice: 'vendor'" in capsys.readouterr().err
    assert asyncio.run(_count(cli_database, "SELECT count(*) FROM registry_account")) == 0
