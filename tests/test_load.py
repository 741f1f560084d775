"""`make load`'s tool for real, briefly: a few clients for a few seconds against two granian workers, then the
report. Its figures are not judged here (a shared machine); its shape and its correctness are: every kind of the
mixed workload was exercised, nothing answered 5xx or dropped a connection, and the baseline ran beside it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.load_work import WORKLOAD_KINDS

from core.db import drop_database

ROOT = Path(__file__).resolve().parents[1]
NAME = f"flexreg_load_check_{os.getpid()}"


def test_a_short_load_run_reports_every_kind_with_no_server_error(server_url: str, tmp_path: Path) -> None:
    report = tmp_path / "load.json"
    command = [sys.executable, "-m", "bench.load", "--duration", "5", "--clients", "12", "--baseline-duration", "1"]
    command += ["--think", "0.2", "--saturation-duration", "3"]
    command += ["--database", NAME, "--json", str(report), "--logs", str(tmp_path)]
    env = {**os.environ, "DATABASE_URL": server_url, "FLEXREG_VAR_DIR": str(tmp_path)}
    try:
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    finally:
        asyncio.run(drop_database(server_url, NAME))
        asyncio.run(drop_database(server_url, f"{NAME}_saturation"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())

    accounts = result["config"]["clients"] - result["config"]["plan"]["signup_clients"]
    for window in (result, result["saturation"]):
        kinds = window["kinds"]
        assert sorted(kinds) == sorted(WORKLOAD_KINDS), "every kind of the workload was exercised"
        for kind, figures in kinds.items():
            assert figures["requests"] > 0, kind
            bad = {s: n for s, n in figures["statuses"].items() if s == "no answer" or int(s) >= 500}
            assert not bad, (kind, bad, figures["error_samples"])
            assert figures["expected"] + figures["conflicts"] + figures["errors"] == figures["requests"], kind
            assert 0 < figures["p50_ms"] <= figures["p99_ms"], kind
        overall = window["overall"]
        assert overall["requests"] == sum(f["requests"] for f in kinds.values())
        assert overall["rps"] > 0
        assert overall["p50_ms"] <= overall["p99_ms"]
        # Every account signed in (the tool stops otherwise); one that needed a second try shows among the errors.
        assert window["sign_in"]["requests"] == accounts + window["sign_in"]["errors"]
    assert result["config"]["think_s"] == 0.2
    assert result["saturation"]["think_s"] == 0
    assert result["baseline"]["requests"] > 0
    assert result["baseline"]["errors"] == 0
    assert result["ratio"] == result["saturation"]["overall"]["rps"] / result["baseline"]["rps"]
    for heading in ("all kinds", "bare Litestar GET (baseline)", "errors by status", "the bare baseline of this run"):
        assert heading in run.stdout, heading
    assert "== people" in run.stdout
    assert "== saturation" in run.stdout
    assert "share this machine's" in run.stdout, "the report says the generator and the servers share the cores"
