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

from bench import permits as permits_bench
from bench import venues as venues_bench
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
        await connection.execute(
            "CREATE TABLE bench_raw_pitch (id uuid PRIMARY KEY, venue_id uuid NOT NULL, label text NOT NULL,"
            " geometry jsonb NOT NULL)"
        )
        await connection.execute(
            "CREATE TABLE bench_raw_road (id uuid PRIMARY KEY, zone_id uuid NOT NULL, activity_code text NOT NULL,"
            " footprint jsonb NOT NULL, periods jsonb NOT NULL)"
        )
        await connection.execute(
            "CREATE TABLE bench_raw_exemption_check (id uuid PRIMARY KEY, activity_code text NOT NULL, vendor_id uuid,"
            " input jsonb NOT NULL, outcome text NOT NULL, reasons jsonb NOT NULL, required_permits jsonb NOT NULL,"
            " matched_place jsonb, rule_version text NOT NULL, rule_versions jsonb NOT NULL,"
            " venue_revisions jsonb NOT NULL, created_at timestamptz NOT NULL)"
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


def measure_permits(
    wrk: str,
    base: str,
    seeded: permits_bench.Seeded,
    vendors: list[dict[str, str]],
    http: dict[str, dict[str, float]],
    skipped: dict[str, str],
) -> None:
    """POST /exemption-checks as vendors naming themselves, once its probe is answered with a stored exemption."""
    name = "POST /exemption-checks"
    probe_vendor = vendors[-2]
    body = permits_bench.check_body(seeded, probe_vendor["vendor_id"])
    status, answer = permits_bench.probe(base, "/api/v1/exemption-checks", body, probe_vendor["token"])
    if status != 200 or '"outcome":"exempt"' not in answer or '"reference":"EX-' not in answer:
        skipped[name] = f"the probe request was answered {status}: {answer[:300]}"
        return
    http[name] = load(wrk, f"{base}/", lua=permits_bench.check_script(seeded, vendors, "/api/v1/exemption-checks"))


def main() -> None:
    wrk = ensure_wrk()
    url = asyncio.run(prepare_database(server_url()))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLEXREG_VAR_DIR": str(ROOT / "var"),
        # A load test measures the handlers, not the abuse limits (API.md).
        "FLEXREG_RATE_LIMITS": "off",
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
    seeded = asyncio.run(venues_bench.seed(url, env))
    print(
        f"venues seeded in {seeded.figures['seed s']:.1f} s; measuring the draw and the lookup in process ...",
        flush=True,
    )
    permits_seeded = asyncio.run(permits_bench.seed(url, env))
    permits_http: dict[str, dict[str, float]] = {}
    permits_skipped: dict[str, str] = {}
    flow: permits_bench.Flow | None = None
    harness: permits_bench.Flow | None = None
    stored: dict[str, int] | None = None
    flow_title = "applications through three departments end to end"
    draw_figures = venues_bench.measure_draw(url, seeded)
    lookup_figures = venues_bench.measure_lookup(url, seeded)
    lookup_path = "/api/v1/designated-places"
    first_slot = venues_bench.first_road_slot()
    road_tokens = [v["token"] for v in vendors[:30000]]
    venues_http: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}; granian 1 worker, uvloop; each server alone on the box")
    results: dict[str, dict[str, float]] = {}
    baseline = serve("bench.baseline:create_app", 18801, env)
    try:
        lookup_bare = venues_bench.lookup_script(seeded.lookup_points, "/bare-designated")
        load(wrk, "http://127.0.0.1:18801/", lua=lookup_bare)  # warm-up
        venues_http["bare Litestar GET, designated-sized body (baseline)"] = load(
            wrk, "http://127.0.0.1:18801/", lua=lookup_bare
        )
        venues_http["raw asyncpg pitch insert POST (baseline)"] = load(
            wrk,
            "http://127.0.0.1:18801/",
            lua=venues_bench.pitch_script(seeded.pitch_venues, seeded.office_token, baseline=True),
        )
        venues_http["raw asyncpg road insert POST (baseline)"] = load(
            wrk,
            "http://127.0.0.1:18801/",
            lua=venues_bench.road_script(seeded.road_zones, road_tokens, first_slot, baseline=True),
        )
        load(wrk, "http://127.0.0.1:18801/bare")  # warm-up
        results["bare Litestar GET (baseline)"] = load(wrk, "http://127.0.0.1:18801/bare")
        # Diagnostic: the same endpoint serving the catalogue's bytes shows what the payload size alone costs.
        results["bare Litestar GET, catalogue-sized body"] = load(wrk, "http://127.0.0.1:18801/bare-catalogue")
        results["raw asyncpg insert POST (baseline)"] = load(wrk, "http://127.0.0.1:18801/raw-insert", body=claim)
        results["raw asyncpg, the claim's statement (baseline)"] = load(
            wrk, "http://127.0.0.1:18801/", lua=claim_script(vendors, baseline=True)
        )
        permits_http["raw asyncpg insert POST (baseline)"] = results["raw asyncpg insert POST (baseline)"]
        permits_http["raw asyncpg exemption-check-sized insert POST (baseline)"] = load(
            wrk,
            "http://127.0.0.1:18801/",
            lua=permits_bench.check_script(permits_seeded, vendors, "/raw-exemption-check"),
        )
        harness = permits_bench.measure_harness_baseline("http://127.0.0.1:18801", claim)
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
        base = "http://127.0.0.1:18802"
        lookup_app = venues_bench.lookup_script(seeded.lookup_points, lookup_path)
        load(wrk, f"{base}/", lua=lookup_app)  # warm-up
        venues_http["GET /designated-places"] = load(wrk, f"{base}/", lua=lookup_app)
        # Pitch creation and road approval, where this flexreg serves them (other slices of issue 6).
        if not venues_bench.served_operation(base, "post", r"/api/v1/venues/\{[^}]+\}/pitches"):
            skipped["POST /venues/{id}/pitches"] = "this flexreg serves no POST /venues/{id}/pitches (404 route)"
        else:
            path = f"/api/v1/venues/{seeded.pitch_probe[0]}/pitches"
            status, answer = venues_bench.probe(base, path, venues_bench.pitch_probe_body(seeded), seeded.office_token)
            if status != 201:
                skipped["POST /venues/{id}/pitches"] = f"the probe request was answered {status}: {answer[:300]}"
            else:
                venues_http["POST /venues/{id}/pitches"] = load(
                    wrk,
                    f"{base}/",
                    lua=venues_bench.pitch_script(seeded.pitch_venues, seeded.office_token, baseline=False),
                )
        if not venues_bench.served_operation(base, "post", r"/api/v1/road-occupancy-requests/?"):
            skipped["POST /road-occupancy-requests"] = (
                "this flexreg serves no POST /road-occupancy-requests (404 route)"
            )
        else:
            body = venues_bench.road_probe_body(seeded, first_slot)
            status, answer = venues_bench.probe(base, "/api/v1/road-occupancy-requests", body, vendors[-1]["token"])
            if status != 201 or '"approved"' not in answer:
                skipped["POST /road-occupancy-requests"] = f"the probe request was answered {status}: {answer[:300]}"
            else:
                venues_http["POST /road-occupancy-requests"] = load(
                    wrk,
                    f"{base}/",
                    lua=venues_bench.road_script(seeded.road_zones, road_tokens, first_slot, baseline=False),
                )
        measure_permits(wrk, base, permits_seeded, vendors, permits_http, permits_skipped)
        status, answer = permits_bench.probe(
            base, "/api/v1/applications", permits_bench.application_body(permits_seeded), vendors[-2]["token"]
        )
        departments = sorted(t["department"] for t in json.loads(answer).get("tasks", [])) if status == 201 else []
        if departments != sorted(permits_bench.DEPARTMENTS):
            permits_skipped[flow_title] = f"the probe application was answered {status}: {answer[:300]}"
        else:
            print(f"permits: {permits_bench.APPLICATIONS} {flow_title} ...", flush=True)
            flow = permits_bench.measure_flow(base, permits_seeded, vendors)
            stored = permits_bench.verify(url, flow)
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
    width = max(len(name) for name in venues_http) + 2
    print(f"\n{'venues endpoint':{width}} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, figures in venues_http.items():
        print(
            f"{name:{width}} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} {figures['errors']:8.0f}"
        )
    venues_bench.report(draw_figures, lookup_figures, venues_http, skipped)
    permits_bench.report(permits_http, permits_skipped, flow, harness, stored)
    print(f"\nbench run {uuid.uuid4().hex[:8]} done")


if __name__ == "__main__":
    main()
