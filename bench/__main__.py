"""Run the benchmark: seed a database, serve flexreg and the baselines with granian, load them with wrk."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import asyncpg

from core.db import recreate_database

ROOT = Path(__file__).resolve().parents[1]
DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "64")
THREADS = "2"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        sys.exit("make bench needs wrk (apt-get install wrk)")
    return found


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from core.embedded_pg import start_embedded_postgres

    return start_embedded_postgres(ROOT / "var")


async def prepare_database(server: str) -> str:
    url = await recreate_database(server, "flexreg_bench")
    env = {**os.environ, "DATABASE_URL": url}
    migrate = [str(ROOT / ".venv/bin/flexreg"), "migrate"]
    await asyncio.to_thread(subprocess.run, migrate, check=True, env=env, capture_output=True)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "CREATE TABLE bench_raw_insert (id uuid PRIMARY KEY, key_group text NOT NULL, details jsonb NOT NULL,"
            " submitted_at timestamptz NOT NULL)"
        )
    finally:
        await connection.close()
    return url


def seed(url: str, env: dict[str, str], count: int) -> list[dict[str, str]]:
    """`count` vendors, each with a token and an evidence document."""
    script = ROOT / "bench" / "seed.py"
    out = subprocess.run(
        [sys.executable, str(script), str(count)],
        check=True,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    vendors: list[dict[str, str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return vendors


def claim_script(vendors: list[dict[str, str]], *, baseline: bool = False) -> str:
    """A wrk script that files each request's claim for the next vendor (one pending claim per group each).

    For the same-statements baseline the path is its own and the acting account travels in a header.
    """
    prefix, suffix = ("/same-statements", "") if baseline else ("/api/v1/vendors", "/key-group-claims")
    header = "X-Actor" if baseline else "Authorization"
    rows = ",\n".join(
        "{{{path}, {token}, {body}}}".format(
            path=json.dumps(f"{prefix}/{v['vendor_id']}{suffix}"),
            token=json.dumps(v["account_id"] if baseline else f"Bearer {v['token']}"),
            body=json.dumps(
                json.dumps(
                    {
                        "group": "college_graduate",
                        "evidence_document_ids": [v["document_id"]],
                        "details": {"graduation_on": "2026-07-01"},
                    }
                )
            ),
        )
        for v in vendors
    )
    return f"""
local vendors = {{
{rows}
}}
local counter = 0
local stride = 1
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
function init(args)
  stride = 2
  counter = offset
end
request = function()
  counter = counter + stride
  local v = vendors[(counter % #vendors) + 1]
  return wrk.format("POST", v[1], {{["Content-Type"] = "application/json", ["{header}"] = v[2]}}, v[3])
end
"""


async def clear_claims(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("TRUNCATE registry_key_group_claim_evidence, registry_key_group_claim CASCADE")
    finally:
        await connection.close()


def serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv/bin/granian"),
        "--interface",
        "asgi",
        "--factory",
        "--loop",
        "uvloop",
        "--workers",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        target,
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=1)
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{target} exited early")
            time.sleep(0.2)
    sys.exit(f"{target} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")


def load(
    wrk: str, url: str, *, body: str | None = None, token: str | None = None, lua: str | None = None
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if lua is not None:
            script.write(lua)
        if body is not None:
            script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n')
            script.write('wrk.headers["Content-Type"] = "application/json"\n')
        if token is not None:
            script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    command = [wrk, "-t", THREADS, "-c", CONNECTIONS, "-d", DURATION, "--latency", "-s", script.name, url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    os.unlink(script.name)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latencies = {p: float(v) * scale[u] for p, v, u in _LATENCY.findall(output)}
    errors = _ERRORS.search(output)
    rps = _RPS.search(output)
    if rps is None:
        sys.exit(f"could not read wrk output:\n{output}")
    return {
        "rps": float(rps.group(1)),
        "p50": latencies.get("50", 0.0),
        "p99": latencies.get("99", 0.0),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    wrk = ensure_wrk()
    url = asyncio.run(prepare_database(server_url()))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLEXREG_VAR_DIR": str(ROOT / "var"),
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    vendors = seed(url, env, int(os.environ.get("BENCH_VENDORS", "50000")))
    claim = json.dumps(
        {
            "group": "college_graduate",
            "evidence_document_ids": [vendors[0]["document_id"]],
            "details": {"graduation_on": "2026-07-01"},
        }
    )
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}; granian 1 worker, uvloop; each server alone on the box")
    results: dict[str, dict[str, float]] = {}
    baseline = serve("bench.baseline:create_app", 18801, env)
    try:
        load(wrk, "http://127.0.0.1:18801/bare")  # warm-up
        results["bare Litestar GET (baseline)"] = load(wrk, "http://127.0.0.1:18801/bare")
        # Diagnostic: the same endpoint serving the catalogue's bytes shows what the payload size alone costs.
        results["bare Litestar GET, catalogue-sized body"] = load(wrk, "http://127.0.0.1:18801/bare-catalogue")
        results["raw asyncpg insert POST (baseline)"] = load(wrk, "http://127.0.0.1:18801/raw-insert", body=claim)
        results["raw asyncpg, the claim's statement (baseline)"] = load(
            wrk, "http://127.0.0.1:18801/", lua=claim_script(vendors, baseline=True)
        )
    finally:
        stop(baseline)
    # The baseline filed a pending claim for many vendors; clear them so flexreg files for the same vendors.
    asyncio.run(clear_claims(url))
    app = serve("flexreg.app:create_app", 18802, env)
    try:
        load(wrk, "http://127.0.0.1:18802/api/v1/activities")  # warm-up
        results["GET /activities"] = load(wrk, "http://127.0.0.1:18802/api/v1/activities")
        # Every request files a new claim for another vendor; wrap-around would hit 409 claim_pending and
        # show up as non-2xx, so BENCH_VENDORS must exceed the requests one run makes.
        results["POST /vendors/{id}/key-group-claims"] = load(wrk, "http://127.0.0.1:18802/", lua=claim_script(vendors))
    finally:
        stop(app)
    # (measured, baseline, aim): each aim is a ratio to a baseline measured in this same run.
    aims = [
        ("GET /activities", "bare Litestar GET (baseline)", 0.8),
        ("POST /vendors/{id}/key-group-claims", "raw asyncpg, the claim's statement (baseline)", 0.8),
        ("POST /vendors/{id}/key-group-claims", "raw asyncpg insert POST (baseline)", 0.4),
    ]
    width = max(len(name) for name in results) + 2
    print(f"\n{'endpoint':{width}} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in results.items():
        print(
            f"{name:{width}} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} {figures['errors']:8.0f}"
        )
    failed = [name for name, figures in results.items() if figures["errors"]]
    if failed:
        # A failing endpoint answers fast and would inflate its rate: no ratio is worth printing then.
        sys.exit(f"non-2xx answers in: {', '.join(failed)} (raise BENCH_VENDORS?); no ratios reported")
    print(f"\n{'measured':38} {'against':48} {'ratio':>6} {'aim':>5}")
    for name, base, target in aims:
        ratio = results[name]["rps"] / results[base]["rps"]
        verdict = "met" if ratio >= target else "NOT MET"
        print(f"{name:38} {base:48} {ratio:5.2f}x {target:4.1f}x {verdict}")
    print(f"\nbench run {uuid.uuid4().hex[:8]} done")


if __name__ == "__main__":
    main()
