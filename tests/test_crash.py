"""T-K1, the fast lane of `make crash`: two servers SIGKILLed three times under write load lose nothing, repeat nothing.

The full lane (ten kills or more) is `make crash`. This one runs the same tool for 20 s of load,
then shows that its checks bite: with one acknowledged document removed behind its back, they report it.
Pass or fail never depends on timing: the kills land wherever they land, and every outcome is checked in SQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from core.db import drop_database

ROOT = Path(__file__).resolve().parents[1]


def crash_tool(server_url: str, *arguments: str) -> tuple[int, dict[str, object], str]:
    """Run bench.crash; its exit status, the JSON of its last line and its whole output."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.crash", "--json", *arguments],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": server_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return done.returncode, figures, done.stdout + done.stderr


@pytest.mark.crash
async def test_three_kills_under_load_lose_nothing_and_repeat_nothing(server_url: str, tmp_path: Path) -> None:
    database = f"flexreg_crash_test_{os.getpid()}"
    ledger = tmp_path / "ledger.json"
    try:
        code, figures, output = await asyncio.to_thread(
            crash_tool, server_url, "--kills", "3", "--duration", "20", "--database", database, "--ledger", str(ledger)
        )
        assert code == 0, output
        assert figures["violations"] == 0, output
        assert figures["kills"] == 3, output
        assert isinstance(figures["figures"], dict)
        assert figures["figures"]["acknowledged in the end (2xx)"] > 0, output

        # The checks are not vacuous: an acknowledged document gone missing is reported, and exits 1.
        book = json.loads(ledger.read_text())
        lost = next(entry["id"] for entry in book["answers"] if entry["kind"] == "document" and entry["id"])
        connection = await asyncpg.connect(book["database"])
        try:
            async with connection.transaction():
                await connection.execute("DELETE FROM registry_document_content WHERE document_id = $1", lost)
                await connection.execute("DELETE FROM registry_document WHERE id = $1", lost)
        finally:
            await connection.close()
        code, figures, output = await asyncio.to_thread(crash_tool, server_url, "--check", str(ledger))
        assert code == 1, output
        assert figures["acknowledged write lost"] == [f"document {lost}"], output
    finally:
        await drop_database(server_url, database)
