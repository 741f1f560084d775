"""`make load`: a mixed workload against `flexreg serve --workers N`, beside the bare Litestar baseline of the same run.

Three windows, the generator (this process, one core at most) driving each with the same clients:
1. the bare Litestar GET of bench/baseline.py under granian (N workers, uvloop), no think time: the stack's ceiling;
2. the people run: flexreg served the way a city would (`flexreg serve --workers N`, FLEXREG_RATE_LIMITS=off) on a
   freshly seeded city (bench/load_seed.py), every client a person pausing between requests (`--think`, mean
   seconds): the run the aims (0 errors, p99 < 250 ms) are read from;
3. the saturation run: the same clients with no think time on another fresh city, so 200 requests are always in
   flight: the service's throughput, as a ratio to the baseline. Its latencies are queueing (Little's law: 200
   in flight at X req/s wait 200/X s), so no latency aim applies to it.
The generator and the servers share the machine's cores, which the report says with the CPU each used.

    python -m bench.load [--duration 60] [--clients 200] [--workers 2] [--think 2] [--json report.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import uvloop

from bench import load_seed, load_work
from core.db import recreate_database

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
AIM_P99_MS = 250.0
# A person on a phone reads what a tap brought before the next one; 2 s is a hurried one (the aims' run).
DEFAULT_THINK_S = 2.0


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from core.embedded_pg import start_embedded_postgres

    return start_embedded_postgres(ROOT / "var")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def start(
    command: Sequence[str], env: dict[str, str], ready_path: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """A server in a process group of its own, its output in `log`, once it answers `ready_path`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, start_new_session=True, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}{ready_path}", timeout=2)
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"{' '.join(command)} exited early:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
    stop(process)
    sys.exit(f"{' '.join(command)} did not answer {ready_path} within 120 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class GroupCpu:
    """CPU seconds spent by every process of a server's process group (granian's workers, flexreg's job worker),
    read from /proc between the window's opening and closing."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.group = process.pid
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.at_open = 0.0
        self.seconds = 0.0
        self.wall = 0.0
        self._opened = 0.0
        self.load_average = 0.0

    def _now(self) -> float:
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == self.group:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.ticks

    def __call__(self, opening: bool) -> None:
        if opening:
            self.at_open, self._opened = self._now(), time.perf_counter()
        else:
            self.seconds, self.wall = self._now() - self.at_open, time.perf_counter() - self._opened
            self.load_average = os.getloadavg()[0]  # other work on the machine shows here

    @property
    def cores(self) -> float:
        return self.seconds / self.wall if self.wall else 0.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summarise(recorder: load_work.Recorder, duration: float) -> dict[str, Any]:
    """Per kind and overall: requests, req/s over the window, p50/p99, outcomes and statuses."""
    kinds: dict[str, Any] = {}
    every: list[float] = []
    errors: Counter[str] = Counter()
    for kind, stats in recorder.kinds.items():
        if kind == "POST /auth/token":
            continue
        every += stats.latencies_ms
        errors.update(stats.error_statuses)
        kinds[kind] = {
            "requests": len(stats.latencies_ms),
            "rps": len(stats.latencies_ms) / duration,
            "p50_ms": _pct(stats.latencies_ms, 0.5),
            "p99_ms": _pct(stats.latencies_ms, 0.99),
            "expected": stats.expected,
            "conflicts": stats.conflicts,
            "errors": stats.errors,
            "statuses": dict(stats.statuses),
            "error_samples": stats.samples,
        }
    overall = {
        "requests": len(every),
        "rps": len(every) / duration,
        "p50_ms": _pct(every, 0.5),
        "p99_ms": _pct(every, 0.99),
        "expected": sum(k["expected"] for k in kinds.values()),
        "conflicts": sum(k["conflicts"] for k in kinds.values()),
        "errors": sum(k["errors"] for k in kinds.values()),
        "errors_by_status": dict(errors),
    }
    return {"kinds": kinds, "overall": overall}


def sign_ins(recorder: load_work.Recorder) -> dict[str, Any]:
    stats = recorder.kinds.get("POST /auth/token", load_work.KindStats())
    return {
        "requests": len(stats.latencies_ms),
        "p50_ms": _pct(stats.latencies_ms, 0.5),
        "p99_ms": _pct(stats.latencies_ms, 0.99),
        "errors": stats.errors,
        "samples": stats.samples,
    }


def prepare(database: str, env: dict[str, str]) -> str:
    url = asyncio.run(recreate_database(server_url(), database))
    migrate = [str(ROOT / ".venv/bin/flexreg"), "migrate"]
    done = subprocess.run(migrate, env={**env, "DATABASE_URL": url}, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"flexreg migrate failed:\n{done.stderr[-3000:]}")
    return url


def _serve_and_drive(
    args: argparse.Namespace, base_env: dict[str, str], database: str, think_s: float, duration: float, label: str
) -> dict[str, Any]:
    """Migrate and seed `database`, serve flexreg on it the way a city would (`flexreg serve --workers N`), drive
    the mixed workload for `duration` with the given think time, and summarise the window."""
    print(f"{label}: migrating and seeding a scratch database {database} ...", flush=True)
    url = prepare(database, base_env)
    env = {**base_env, "DATABASE_URL": url}
    plan = load_work.plan_for(args.clients, args.signups_per_s, args.sign_in_concurrency, think_s)
    city = asyncio.run(
        load_seed.seed(url, env, vendors=max(plan.vendors, 50), offices=plan.offices, reviewers=plan.reviewers)
    )
    port = free_port()
    serve_command = [str(ROOT / ".venv/bin/flexreg"), "serve", "--host", HOST, "--port", str(port)]
    serve_command += ["--workers", str(args.workers)]
    pause = f"think time {think_s:g} s on average" if think_s else "no think time"
    print(
        f"{label}: flexreg serve --workers {args.workers}: {plan.clients} clients ({plan.vendors} vendors, "
        f"{plan.reviewers * 3} department reviewers, {plan.offices} street offices, {plan.signup_clients} "
        f"sign-up), {pause}, {duration:.0f} s after every account signs in ...",
        flush=True,
    )
    log = args.logs / f"load-serve-{label}.log"
    server = start(serve_command, env, "/api/v1/activities", port, log)
    try:
        cpu = GroupCpu(server)
        mixed, mixed_share = uvloop.run(load_work.run_mixed(HOST, port, city, plan, duration, cpu))
    finally:
        stop(server)
    summary = summarise(mixed, duration)
    logged = sum(line.startswith("ERROR") for line in log.read_text(errors="replace").splitlines())
    return {
        "duration_s": duration,
        "think_s": think_s,
        "plan": dataclasses.asdict(plan) | {"vendors": plan.vendors},
        "server_log": {"path": str(log), "error_lines": logged},
        "sign_in": sign_ins(mixed),
        "kinds": summary["kinds"],
        "overall": summary["overall"]
        | {
            "generator_cores": mixed_share,
            "server_cores": cpu.cores,
            "server_cpu_ms_per_request": cpu.seconds * 1000 / max(1, summary["overall"]["requests"]),
            "load_average": cpu.load_average,
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    base_env = {
        **os.environ,
        "FLEXREG_VAR_DIR": os.environ.get("FLEXREG_VAR_DIR", str(ROOT / "var")),
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        # A load test must never meet the abuse limits (API.md): they would turn its clients' pace into 429s.
        "FLEXREG_RATE_LIMITS": "off",
    }
    port = free_port()
    granian = [str(ROOT / ".venv/bin/granian"), "--interface", "asgi", "--factory", "--loop", "uvloop"]
    baseline_command = [
        *granian,
        *("--workers", str(args.workers), "--host", HOST, "--port", str(port), "--log-level", "warning"),
        "bench.baseline:create_app",
    ]
    print(
        f"baseline: bare Litestar GET, granian {args.workers} workers, {args.clients} clients, no think time, "
        f"{args.baseline_duration:.0f} s ...",
        flush=True,
    )
    # The bare app opens a pool at start-up though its GET never uses it: the server's own database will do.
    bare_env = {**base_env, "DATABASE_URL": server_url()}
    server = start(baseline_command, bare_env, "/bare", port, args.logs / "load-baseline.log")
    try:
        cpu = GroupCpu(server)
        bare, bare_share = uvloop.run(load_work.run_bare(HOST, port, args.clients, args.baseline_duration, cpu))
        baseline = summarise(bare, args.baseline_duration)["overall"] | {
            "generator_cores": bare_share,
            "server_cores": cpu.cores,
            "server_cpu_ms_per_request": cpu.seconds
            * 1000
            / max(1, len(bare.kinds.get("GET /bare (baseline)", load_work.KindStats()).latencies_ms)),
            "load_average": cpu.load_average,
        }
    finally:
        stop(server)

    # Each run gets a city of its own, so the second never meets the first's claims, queues and road slots.
    people = _serve_and_drive(args, base_env, args.database, args.think, args.duration, "people")
    saturation = None
    if args.saturation_duration > 0:
        database = f"{args.database}_saturation"
        saturation = _serve_and_drive(args, base_env, database, 0.0, args.saturation_duration, "saturation")
    capacity = (saturation or people)["overall"]["rps"]
    return {
        "config": {
            "duration_s": args.duration,
            "baseline_duration_s": args.baseline_duration,
            "saturation_duration_s": args.saturation_duration,
            "think_s": args.think,
            "clients": args.clients,
            "workers": args.workers,
            "plan": people["plan"],
            "cpus": os.cpu_count(),
        },
        **people,
        "saturation": saturation,
        "baseline": baseline,
        "ratio": capacity / baseline["rps"] if baseline["rps"] else 0.0,
    }


def _table(run: dict[str, Any], printer: Callable[[str], None], baseline: dict[str, Any] | None) -> None:
    kinds, overall = run["kinds"], run["overall"]
    width = max(len(k) for k in [*kinds, "bare Litestar GET (baseline)"]) + 2
    printer(
        f"\n{'kind':{width}} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'conflicts':>9} "
        f"{'errors':>7}  statuses"
    )
    for kind in load_work.WORKLOAD_KINDS:
        figures = kinds.get(kind)
        if figures is None:
            printer(f"{kind:{width}} {'(none)':>9}")
            continue
        statuses = " ".join(f"{s}×{n}" for s, n in sorted(figures["statuses"].items()))
        printer(
            f"{kind:{width}} {figures['requests']:9d} {figures['rps']:8.1f} {figures['p50_ms']:8.1f} "
            f"{figures['p99_ms']:8.1f} {figures['conflicts']:9d} {figures['errors']:7d}  {statuses}"
        )
    printer(
        f"{'all kinds':{width}} {overall['requests']:9d} {overall['rps']:8.1f} {overall['p50_ms']:8.1f} "
        f"{overall['p99_ms']:8.1f} {overall['conflicts']:9d} {overall['errors']:7d}"
    )
    if baseline is not None:
        printer(
            f"{'bare Litestar GET (baseline)':{width}} {baseline['requests']:9d} {baseline['rps']:8.1f} "
            f"{baseline['p50_ms']:8.1f} {baseline['p99_ms']:8.1f} {baseline['conflicts']:9d} "
            f"{baseline['errors']:7d}  (same generator and clients, no think time)"
        )
    by_status = ", ".join(f"{s}: {n}" for s, n in sorted(overall["errors_by_status"].items())) or "none"
    printer(f"errors by status: {by_status}; conflicts (409/412, races counted apart): {overall['conflicts']}")
    for kind, figures in kinds.items():
        for sample in figures["error_samples"]:
            printer(f"  {kind}: {sample}")
    printer(f"service log: {run['server_log']['path']} ({run['server_log']['error_lines']} ERROR lines)")


def _cores(run: dict[str, Any], cpus: int, printer: Callable[[str], None]) -> None:
    overall = run["overall"]
    printer(
        f"over the window the generator used {overall['generator_cores']:.2f} core and the service "
        f"{overall['server_cores']:.2f} of this machine's {cpus}; service CPU per request "
        f"{overall['server_cpu_ms_per_request']:.2f} ms; 1-minute load average at the end "
        f"{overall['load_average']:.1f} (above {cpus}, other processes were taking CPU too)"
    )
    sign_in = run["sign_in"]
    printer(
        f"sign-in before the window ({run['plan']['sign_in_concurrency']} at a time): {sign_in['requests']} "
        f"POST /auth/token, p50 {sign_in['p50_ms']:.0f} ms, p99 {sign_in['p99_ms']:.0f} ms, {sign_in['errors']} "
        f"errors (retried){' ' + str(sign_in['samples']) if sign_in['samples'] else ''}"
    )


def report(result: dict[str, Any], printer: Callable[[str], None] = print) -> None:
    config, overall, baseline = result["config"], result["overall"], result["baseline"]
    plan, cpus = config["plan"], config["cpus"]
    printer(
        f"\nmake load: flexreg serve --workers {config['workers']}, FLEXREG_RATE_LIMITS=off; {config['clients']} "
        f"clients, one keep-alive connection each ({plan['vendors']} vendors, {plan['reviewers'] * 3} department "
        f"reviewers, {plan['offices']} street offices, {plan['signup_clients']} sign-up at "
        f"{plan['signups_per_s']:g}/s); the generator (one process, uvloop, raw HTTP/1.1) and the servers share "
        f"this machine's {cpus} cores"
    )
    printer(
        f"baseline: bare Litestar GET, {baseline['rps']:.0f} req/s over {config['baseline_duration_s']:.0f} s "
        f"(generator {baseline['generator_cores']:.2f} core, server {baseline['server_cores']:.2f}, "
        f"{baseline['server_cpu_ms_per_request']:.2f} ms CPU per request)"
    )
    printer(
        f"\n== people: {config['clients']} clients, each pausing {config['think_s']:g} s on average between requests "
        f"(exponential), {config['duration_s']:.0f} s: the latency and error aims"
    )
    _cores(result, cpus, printer)
    _table(result, printer, None)
    saturation = result["saturation"]
    if saturation is not None:
        printer(
            f"\n== saturation: the same {config['clients']} clients with no think time, "
            f"{config['saturation_duration_s']:.0f} s on a fresh city: what the service can serve, beside the "
            f"bare baseline (its latencies are queueing: {config['clients']} requests always in flight)"
        )
        _cores(saturation, cpus, printer)
        _table(saturation, printer, baseline)
    capacity = "saturation" if saturation is not None else "people"
    printer(f"\nthroughput ({capacity} run): {result['ratio']:.3f}x the bare baseline of this run")
    verdict = {True: "met", False: "NOT MET"}
    printer(
        f"aims (people run): 0 errors: {verdict[overall['errors'] == 0]}; p99 < {AIM_P99_MS:.0f} ms overall "
        f"({overall['p99_ms']:.0f} ms): {verdict[overall['p99_ms'] < AIM_P99_MS]}; worst kind's p99 "
        f"{max((k['p99_ms'] for k in result['kinds'].values()), default=0.0):.0f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of mixed load (default 60)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="granian workers of each server (default 2)")
    parser.add_argument("--baseline-duration", type=float, help="seconds of the baseline (default: min(duration, 20))")
    parser.add_argument(
        "--think",
        type=float,
        default=DEFAULT_THINK_S,
        help=f"mean pause between a client's requests, s (default {DEFAULT_THINK_S:g})",
    )
    parser.add_argument(
        "--saturation-duration",
        type=float,
        help="seconds of a second run with no think time, on a fresh city (default: min(duration, 20); 0: none)",
    )
    # Half a sign-up a second is 1,800 an hour: far above a city's busiest hour, and each costs ~125 ms of argon2id.
    parser.add_argument("--signups-per-s", type=float, default=0.5, help="the sign-up clients' pace (default 0.5)")
    parser.add_argument(
        "--sign-in-concurrency", type=int, default=4, help="sign-ins at once before the window (default 4)"
    )
    parser.add_argument("--database", default="flexreg_load", help="scratch database, recreated (default flexreg_load)")
    parser.add_argument("--logs", type=Path, default=ROOT / "var", help="where the servers' output goes (./var)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    if args.baseline_duration is None:
        args.baseline_duration = min(args.duration, 20.0)
    if args.saturation_duration is None:
        args.saturation_duration = min(args.duration, 20.0)
    args.logs.mkdir(parents=True, exist_ok=True)
    result = run(args)
    if args.json is not None:
        args.json.write_bytes(msgspec.json.encode(result))
    report(result)


if __name__ == "__main__":
    main()
