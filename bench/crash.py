"""`make crash`: two flexreg servers on one database, SIGKILLed at random under mixed write load (RELIABILITY.md T-K1).

Starts two `flexreg serve` processes (granian, one worker each, their own ports) on a scratch database
(`flexreg_crash` on DATABASE_URL's server, or the embedded one), drives both with writes that each carry a new
Idempotency-Key (vendor sign-ups, document uploads, key-group claims, applications needing three departments'
permits, those departments' decisions, pitches and road-occupancy requests, the last two over a small set of
places and hours so requests contend for them), and kills one server's whole process group with SIGKILL at
random moments, restarting it each time. Every answer is written to a ledger; a request that got none (its
server died under it, or answered 5xx) is sent again with its original key until it is answered, and a sample
of acknowledged requests is sent again too, which must replay byte for byte. Then SQL checks that:

- every acknowledged (2xx) write is in the database (none lost);
- each kind of resource has exactly one row per key that ended 201 (no key executed twice, none lost);
- every acknowledged key's result is stored (state completed);
- every application has exactly the tasks its required permits imply;
- no two open pitches of a venue overlap, no two live road occupancies of a zone overlap in place and time;
- the permit history's hash chain verifies.

It prints a summary table and exits 1 on any violation. `--json` adds the figures as a last line of JSON.
Servers run with FLEXREG_RATE_LIMITS=off and a short Idempotency-Key lease (FLEXREG_IDEMPOTENCY_LEASE_SECONDS),
so a request whose server was killed mid-flight is taken over by its retry after seconds, not a minute.
Nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from stdnum.cn.ric import calc_check_digit

from bench.permits import application_body
from bench.permits import seed as seed_permits
from bench.seed import CODE
from bench.venues import CITY, DLAT, DLON, _insert_venues, _polygon, _venue
from core.auth import Principal, issue_token
from core.db import recreate_database, sqlalchemy_url
from core.settings import Settings
from permits.history_verify import verify_history

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "flexreg_crash"
LEASE_SECONDS = 3
VENDORS = 1000  # seeded vendors: a claim and an application each take one of their own
CLIENTS = 12  # concurrent requests across both servers
PITCH_CELLS = 20  # per venue: few enough that pitch requests meet each other
ROAD_SPOTS = 3  # footprints per zone, over ROAD_HOURS hours: road requests contend for their slots too
ROAD_HOURS = 8
# Where pitches and road zones go: the north-east corner of bench/seed.py's street, clear of anything else.
CORNER_LON, CORNER_LAT = 116.412, 39.934
PNG = b"\x89PNG\r\n\x1a\n"
# What each answered write created, and where to find it (the id in its 2xx body).
TABLES = {
    "signup": "registry_vendor",
    "document": "registry_document",
    "claim": "registry_key_group_claim",
    "application": "permits_application",
    "decision": "permits_task",
    "pitch": "venues_pitch",
    "road": "venues_road_occupancy",
}
WEIGHTS = {"signup": 1, "document": 3, "claim": 2, "application": 3, "decision": 4, "pitch": 2, "road": 3}


@dataclass
class Call:
    """One request as first sent: a retry repeats it exactly, key included."""

    kind: str
    path: str
    body: bytes
    headers: dict[str, str]

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


@dataclass
class Answer:
    status: int
    body: bytes
    replayed: bool


@dataclass
class Run:
    calls: dict[str, Call] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)  # key → its final answer
    unanswered: list[str] = field(default_factory=list)  # keys sent again after the load
    statuses: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # a refusal's code, by kind and status
    kills: int = 0
    requests: int = 0
    acked_in_load: int = 0
    replay_executed: int = 0
    replay_replayed: int = 0
    sample_checked: int = 0
    violations: dict[str, list[str]] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds of each phase (reported, never judged)


# --- setting up -----------------------------------------------------------------------------------------------


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from core.embedded_pg import start_embedded_postgres

    return start_embedded_postgres(ROOT / "var")


def environment(url: str, var_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "FLEXREG_VAR_DIR": var_dir,
        "FLEXREG_SECRET_KEY": os.environ.get("FLEXREG_SECRET_KEY") or os.urandom(32).hex(),
        "FLEXREG_DATA_KEY": os.environ.get("FLEXREG_DATA_KEY") or os.urandom(32).hex(),
        "FLEXREG_RATE_LIMITS": "off",
        "FLEXREG_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "FLEXREG_DB_POOL_SIZE": "8",
    }


@dataclass
class Places:
    office_token: str
    pitch_venues: list[tuple[uuid.UUID, float, float]]  # id, south-west corner
    road_zones: list[tuple[uuid.UUID, float, float]]


async def seed_places(url: str, env: dict[str, str]) -> Places:
    """A street office, two 60 × 60 m community spaces and two sidewalk zones with their joint approval."""
    office = uuid.uuid4()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO registry_account (id, username, password_hash, role, jurisdiction_code)"
            " VALUES ($1, 'crash_office', 'x', 'street_office', $2)",
            office,
            CODE,
        )
        spaces = [
            _venue(
                office,
                f"社区服务中心 {n}",
                "community_space",
                _polygon(CORNER_LON + n * 62 * DLON, CORNER_LAT, 60, 60),
                ["daily_necessities", "convenience_services"],
            )
            for n in range(2)
        ]
        zones = [
            _venue(
                office,
                f"夜市人行道 {n}",
                "road_zone",
                _polygon(CORNER_LON + n * 105 * DLON, CORNER_LAT + 80 * DLAT, 100, 6),
                ["convenience_services", "daily_necessities"],
                sidewalk_width_m=6.0,
                joint_approval_road_document=f"东城路政许〔2026〕{n}号",
                joint_approval_police_document=f"东公交许〔2026〕{n}号",
                joint_approval_valid_to=dt.date(2030, 12, 31),
            )
            for n in range(2)
        ]
        await _insert_venues(connection, [*spaces, *zones])
        await connection.execute("UPDATE venues_change_counter SET counter = counter + 1")
    finally:
        await connection.close()
    auth = Settings.from_env(env).auth
    return Places(
        office_token=issue_token(auth, Principal(account_id=office, role="street_office", jurisdiction_code=CODE)),
        pitch_venues=[(row[0], CORNER_LON + n * 62 * DLON, CORNER_LAT) for n, row in enumerate(spaces)],
        road_zones=[(row[0], CORNER_LON + n * 105 * DLON, CORNER_LAT + 80 * DLAT) for n, row in enumerate(zones)],
    )


def seed_vendors(env: dict[str, str], count: int) -> list[dict[str, str]]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "seed.py"), str(count)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    vendors: list[dict[str, str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return vendors


class Server:
    """One `flexreg serve` (granian, one worker) in a process group of its own, so a kill takes all of it."""

    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.up = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [str(ROOT / ".venv/bin/flexreg"), "serve", "--port", str(self.port), "--workers", "1", "--no-worker"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=ROOT, start_new_session=True, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/schema/openapi.json", timeout=2).close()
                self.up = True
                return
            except OSError:
                if self.process.poll() is not None:
                    sys.exit(f"the server on port {self.port} exited early (see {self.log})")
                time.sleep(0.2)
        sys.exit(f"the server on port {self.port} did not start (see {self.log})")

    def kill(self) -> None:
        """SIGKILL to the whole group: granian's main process and its worker die mid-request, as in a crash."""
        self.up = False
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        self.up = False
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# --- the requests ---------------------------------------------------------------------------------------------


def _json_call(kind: str, path: str, body: dict[str, Any], token: str | None, **extra: str) -> Call:
    headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4()), **extra}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Call(kind, path, json.dumps(body).encode(), headers)


def _id_number() -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=random.randint(0, 40 * 365))
    body = f"110101{born:%Y%m%d}{random.randint(0, 999):03d}"
    return body + calc_check_digit(body + "0")


class Workload:
    """Builds the next request of each kind; pools make sure a claim or an application is its vendor's only one."""

    def __init__(self, vendors: list[dict[str, str]], permits: Any, places: Places) -> None:
        self.vendors = vendors
        self.fresh = list(vendors)
        random.shuffle(self.fresh)
        self.permits = permits
        self.places = places
        self.tasks: list[tuple[str, str, str]] = []  # task id, department, etag: decided once each
        day = (dt.datetime.now(CITY) + dt.timedelta(days=2)).date()
        self.first_hour = dt.datetime.combine(day, dt.time(6), tzinfo=CITY)

    def next(self) -> Call:
        kinds = [kind for kind in WEIGHTS if kind != "decision" or self.tasks]
        if len(self.fresh) < 10:
            kinds = [kind for kind in kinds if kind not in ("claim", "application")]
        kind = random.choices(kinds, weights=[WEIGHTS[kind] for kind in kinds])[0]
        return getattr(self, kind)()

    def signup(self) -> Call:
        body = {
            "username": f"crash_{uuid.uuid4().hex[:16]}",
            "password": "Crash-Test-2026-kill",
            "name": "王秀英",
            "id_number": _id_number(),
            "phone": f"139{random.randint(0, 99_999_999):08d}",
            "residence_jurisdiction": CODE,
        }
        return _json_call("signup", "/api/v1/vendors", body, None)

    def document(self) -> Call:
        vendor = random.choice(self.vendors)
        boundary = uuid.uuid4().hex
        content = PNG + os.urandom(48)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="evidence.png"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Authorization": f"Bearer {vendor['token']}",
        }
        return Call("document", "/api/v1/documents", body, headers)

    def claim(self) -> Call:
        vendor = self.fresh.pop()
        body = {
            "group": "college_graduate",
            "evidence_document_ids": [vendor["document_id"]],
            "details": {"graduation_on": "2026-07-01"},
        }
        return _json_call("claim", f"/api/v1/vendors/{vendor['vendor_id']}/key-group-claims", body, vendor["token"])

    def application(self) -> Call:
        vendor = self.fresh.pop()
        return _json_call("application", "/api/v1/applications", application_body(self.permits), vendor["token"])

    def decision(self) -> Call:
        task_id, department, etag = self.tasks.pop(random.randrange(len(self.tasks)))
        token = self.permits.reviewer_tokens[department]
        return _json_call(
            "decision", f"/api/v1/tasks/{task_id}/decision", {"decision": "approve"}, token, **{"If-Match": etag}
        )

    def pitch(self) -> Call:
        venue, lon0, lat0 = random.choice(self.places.pitch_venues)
        cell = random.randrange(PITCH_CELLS)
        columns = 38
        x0 = lon0 + (0.5 + (cell % columns) * 1.5) * DLON
        y0 = lat0 + (0.5 + (cell // columns) * 2.0) * DLAT
        body = {"label": f"C-{uuid.uuid4().hex[:10]}", "geometry": _polygon(x0, y0, 1.0, 1.5)}
        return _json_call("pitch", f"/api/v1/venues/{venue}/pitches", body, self.places.office_token)

    def road(self) -> Call:
        zone, lon0, lat0 = random.choice(self.places.road_zones)
        spot, hour = random.randrange(ROAD_SPOTS), random.randrange(ROAD_HOURS)
        start = self.first_hour + dt.timedelta(days=hour // 16, hours=hour % 16)
        body = {
            "zone_id": str(zone),
            "activity_code": "shoe_repair",
            "periods": [{"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}],
            "footprint": _polygon(lon0 + (5 + 15 * spot) * DLON, lat0 + 0.1 * DLAT, 1.5, 1.0),
        }
        return _json_call("road", "/api/v1/road-occupancy-requests", body, random.choice(self.vendors)["token"])

    def answered(self, call: Call, answer: Answer) -> None:
        """Decisions follow applications: each task of an acknowledged application is decided once."""
        if call.kind == "application" and answer.status == 201:
            for task in json.loads(answer.body)["tasks"]:
                self.tasks.append((task["id"], task["department"], task["etag"]))


def _code(body: bytes) -> str:
    """A problem's code (and for a server error its request id, to find it in the servers' log)."""
    try:
        problem = json.loads(body)
        code = str(problem.get("code"))
        return f"{code} (request_id {problem.get('request_id')})" if code == "internal_error" else code
    except (ValueError, AttributeError):
        return body[:80].decode(errors="replace")


async def send(client: aiohttp.ClientSession, server: Server, call: Call) -> Answer:
    async with client.post(server.base + call.path, data=call.body, headers=call.headers) as response:
        body = await response.read()
        return Answer(response.status, body, response.headers.get("Idempotent-Replayed") == "true")


# --- the run --------------------------------------------------------------------------------------------------


async def load(run: Run, work: Workload, servers: list[Server], duration: float, kills: int) -> None:
    deadline = time.monotonic() + duration
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=CLIENTS)) as client:

        async def client_loop() -> None:
            while time.monotonic() < deadline:
                live = [server for server in servers if server.up]
                if not live:
                    await asyncio.sleep(0.05)
                    continue
                call = work.next()
                run.calls[call.key] = call
                run.requests += 1
                try:
                    answer = await send(client, random.choice(live), call)
                except (TimeoutError, aiohttp.ClientError):
                    run.unanswered.append(call.key)
                    run.statuses["no answer"] += 1
                    continue
                run.statuses[f"{call.kind} {answer.status}"] += 1
                if answer.status >= 300:
                    run.examples.setdefault(f"{call.kind} {answer.status}", _code(answer.body))
                if answer.status >= 500:
                    run.unanswered.append(call.key)
                    continue
                run.answers[call.key] = answer
                run.acked_in_load += 200 <= answer.status < 300
                work.answered(call, answer)

        async def killer() -> None:
            # Kill moments spread over the run, each at a random point of its own slice of it.
            started = time.monotonic()
            for n in range(kills):
                slot = duration * 0.9 / kills
                moment = started + duration * 0.05 + n * slot + random.uniform(0.2, 0.8) * slot
                await asyncio.sleep(max(0.0, moment - time.monotonic()))
                victim = random.choice([server for server in servers if server.up] or servers)
                await asyncio.to_thread(victim.kill)
                run.kills += 1
                await asyncio.to_thread(victim.start)

        await asyncio.gather(killer(), *(client_loop() for _ in range(CLIENTS)))


async def settle(run: Run, servers: list[Server]) -> None:
    """Send every unanswered request again with its key until it is answered; then replay a sample of answers."""
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as client:

        async def answer_of(call: Call) -> Answer:
            for _ in range(200):
                try:
                    answer = await send(client, random.choice(servers), call)
                except (TimeoutError, aiohttp.ClientError):
                    await asyncio.sleep(0.5)
                    continue
                if answer.status >= 500 or (answer.status == 409 and b"idempotency_key_in_progress" in answer.body):
                    await asyncio.sleep(1)  # the killed attempt's lease has not run out yet (Retry-After: 1)
                    continue
                return answer
            raise RuntimeError(f"no final answer for {call.kind} {call.key}")

        gate = asyncio.Semaphore(CLIENTS)

        async def retry(key: str) -> None:
            async with gate:
                answer = await answer_of(run.calls[key])
            run.answers[key] = answer
            if answer.replayed:
                run.replay_replayed += 1
            else:
                run.replay_executed += 1

        await asyncio.gather(*(retry(key) for key in dict.fromkeys(run.unanswered)))

        answered = [key for key, answer in run.answers.items() if 200 <= answer.status < 300 or answer.status == 409]
        sample = random.sample(answered, min(300, len(answered)))

        async def recheck(key: str) -> None:
            async with gate:
                again = await answer_of(run.calls[key])
            first = run.answers[key]
            run.sample_checked += 1
            if not again.replayed or again.status != first.status or again.body != first.body:
                run.violations.setdefault("replay differs", []).append(f"{run.calls[key].kind} {key}")

        await asyncio.gather(*(recheck(key) for key in sample))


def ledger(run: Run, url: str, seeded: dict[str, set[uuid.UUID]]) -> dict[str, Any]:
    """Every request's final answer (key → kind, status, the id it created), and what the seed made."""
    resent = set(run.unanswered)
    answers = []
    for key, answer in run.answers.items():
        created = json.loads(answer.body).get("id") if 200 <= answer.status < 300 else None
        answers.append(
            {"key": key, "kind": run.calls[key].kind, "status": answer.status, "id": created, "resent": key in resent}
        )
    return {
        "database": url,
        "seeded": {kind: sorted(map(str, ids)) for kind, ids in seeded.items()},
        "answers": answers,
    }


async def check(book: dict[str, Any], figures: Counter[str]) -> dict[str, list[str]]:
    """The SQL checks on a ledger's database: nothing acknowledged lost, nothing done twice, every invariant."""
    violations: dict[str, list[str]] = {}
    url = book["database"]
    seeded = {kind: {uuid.UUID(i) for i in ids} for kind, ids in book["seeded"].items()}
    created: dict[str, set[uuid.UUID]] = {kind: set() for kind in TABLES}
    for entry in book["answers"]:
        if entry["id"] is not None:
            created[entry["kind"]].add(uuid.UUID(entry["id"]))
    connection = await asyncpg.connect(url)
    try:
        for kind, table in TABLES.items():
            ids = list(created[kind])
            found = {r["id"] for r in await connection.fetch(f"SELECT id FROM {table} WHERE id = ANY($1::uuid[])", ids)}
            for missing in set(ids) - found:
                violations.setdefault("acknowledged write lost", []).append(f"{kind} {missing}")
            if kind == "decision":
                undecided = await connection.fetch(
                    "SELECT id FROM permits_task WHERE id = ANY($1::uuid[]) AND status <> 'approved'", ids
                )
                for row in undecided:
                    violations.setdefault("acknowledged decision lost", []).append(str(row["id"]))
                continue
            # One row per key that ended 201: a key that executed twice leaves a row no answer names.
            rows = await connection.fetchval(
                f"SELECT count(*) FROM {table} WHERE NOT id = ANY($1::uuid[])", list(seeded.get(kind, set()))
            )
            if rows != len(ids):
                violations.setdefault("rows per key", []).append(f"{kind}: {rows} rows for {len(ids)} keys")

        stored = [e["key"] for e in book["answers"] if 200 <= e["status"] < 300 or e["status"] == 409]
        done = await connection.fetchval(
            "SELECT count(DISTINCT key) FROM core_idempotency_key WHERE key = ANY($1::text[]) AND state = 'completed'",
            stored,
        )
        if done != len(stored):
            violations.setdefault("result not stored", []).append(f"{len(stored) - done} of {len(stored)} keys")

        for row in await connection.fetch(
            """
            SELECT a.id FROM permits_application a LEFT JOIN permits_exemption_check c ON c.id = a.exemption_check_id
            WHERE c.id IS NULL
               OR NOT EXISTS (SELECT 1 FROM permits_task t WHERE t.application_id = a.id)
               OR ARRAY(SELECT t.permit_type || '/' || t.department FROM permits_task t
                        WHERE t.application_id = a.id ORDER BY 1)
                  <> ARRAY(SELECT DISTINCT (p ->> 'permit_type') || '/' || (p ->> 'department')
                           FROM jsonb_array_elements(c.required_permits) p ORDER BY 1)
            """
        ):
            violations.setdefault("application without its tasks", []).append(str(row["id"]))

        for row in await connection.fetch(
            """
            SELECT a.id AS one, b.id AS other FROM venues_pitch a JOIN venues_pitch b
              ON a.venue_id = b.venue_id AND a.id < b.id
             AND a.min_lon < b.max_lon AND b.min_lon < a.max_lon AND a.min_lat < b.max_lat AND b.min_lat < a.max_lat
            WHERE a.status = 'open' AND b.status = 'open'
            """
        ):
            violations.setdefault("pitch given twice", []).append(f"{row['one']} {row['other']}")

        for row in await connection.fetch(
            """
            SELECT DISTINCT a.id AS one, b.id AS other
            FROM venues_road_occupancy a JOIN venues_road_occupancy b ON a.zone_id = b.zone_id AND a.id < b.id
             AND a.min_lon < b.max_lon AND b.min_lon < a.max_lon AND a.min_lat < b.max_lat AND b.min_lat < a.max_lat
            JOIN venues_road_occupancy_period pa ON pa.occupancy_id = a.id
            JOIN venues_road_occupancy_period pb ON pb.occupancy_id = b.id AND pa.during && pb.during
            WHERE a.status IN ('approved', 'pending_permit') AND b.status IN ('approved', 'pending_permit')
            """
        ):
            violations.setdefault("road slot given twice", []).append(f"{row['one']} {row['other']}")
        figures["permits issued"] = await connection.fetchval("SELECT count(*) FROM permits_permit")
    finally:
        await connection.close()

    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with async_sessionmaker(engine)() as session:
            verdict = await verify_history(session)
        figures["history rows"] = verdict.rows
        if verdict.finding is not None:
            violations.setdefault("history chain", []).append(verdict.summary())
    finally:
        await engine.dispose()
    return violations


def report(run: Run, as_json: bool) -> None:
    violations = sum(len(found) for found in run.violations.values())
    rows = [
        ("kills (SIGKILL, then restart)", run.kills),
        ("requests sent under load", run.requests),
        ("acknowledged (2xx) under load", run.acked_in_load),
        ("no answer (killed mid-flight, or 5xx)", len(run.unanswered)),
        ("  of which 5xx", sum(n for key, n in run.statuses.items() if key.split()[-1].startswith("5"))),
        ("  sent again: executed", run.replay_executed),
        ("  sent again: replayed a stored result", run.replay_replayed),
        ("acknowledged in the end (2xx)", sum(200 <= a.status < 300 for a in run.answers.values())),
        ("answers re-sent to check the replay", run.sample_checked),
        ("permits issued", run.statuses["permits issued"]),
        ("permit history rows verified", run.statuses["history rows"]),
        ("violations", violations),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>8}")
    kinds = sorted(key for key in run.statuses if key[0].islower() and " " in key and key.split()[-1].isdigit())
    print("  answers under load: " + ", ".join(f"{key} ×{run.statuses[key]}" for key in kinds))
    if run.phases:
        print("  wall seconds: " + ", ".join(f"{phase} {seconds:.0f}" for phase, seconds in run.phases.items()))
    if run.examples:
        print("  refusals: " + ", ".join(f"{key} {code}" for key, code in sorted(run.examples.items())))
    for name, found in run.violations.items():
        print(f"  VIOLATION {name}: {len(found)}, e.g. {found[:3]}")
    print(f"violations={violations}")
    if as_json:
        figures = {label: value for label, value in rows}
        print(json.dumps({"kills": run.kills, "violations": violations, "figures": figures, **run.violations}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs during the load (default 10)")
    parser.add_argument("--duration", type=float, default=90, help="seconds of load (default 90)")
    parser.add_argument("--database", default=DATABASE, help=f"the scratch database, recreated (default {DATABASE})")
    parser.add_argument("--ledger", type=Path, default=ROOT / "var" / "crash-ledger.json", help="where to write it")
    parser.add_argument("--check", type=Path, metavar="LEDGER", help="only run the SQL checks of an earlier run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    arguments = parser.parse_args()
    if arguments.kills < 1 or arguments.duration <= 0:
        parser.error("--kills must be at least 1 and --duration positive")
    if arguments.check is not None:
        run = Run()
        run.violations = asyncio.run(check(json.loads(arguments.check.read_text()), run.statuses))
        report(run, arguments.json)
        sys.exit(1 if run.violations else 0)

    run = Run()
    started = time.monotonic()
    url = asyncio.run(recreate_database(server_url(), arguments.database))
    with tempfile.TemporaryDirectory(prefix="flexreg-crash-") as var_dir:
        env = environment(url, var_dir)
        subprocess.run([str(ROOT / ".venv/bin/flexreg"), "migrate"], check=True, env=env, capture_output=True)
        print(f"seeding {arguments.database} ...", flush=True)
        vendors = seed_vendors(env, VENDORS)
        permits = asyncio.run(seed_permits(url, env))
        places = asyncio.run(seed_places(url, env))
        seeded = {
            "signup": {uuid.UUID(v["vendor_id"]) for v in vendors},
            "document": {uuid.UUID(v["document_id"]) for v in vendors},
        }
        log = arguments.ledger.with_name("crash-servers.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")
        servers = [Server(free_port(), env, log) for _ in range(2)]
        run.phases["seed"] = time.monotonic() - started
        try:
            with ThreadPoolExecutor(len(servers)) as starting:  # each start waits on its own server only
                list(starting.map(Server.start, servers))
            run.phases["start"] = time.monotonic() - started - sum(run.phases.values())
            ports = ", ".join(str(server.port) for server in servers)
            print(f"load for {arguments.duration:.0f} s on ports {ports}, {arguments.kills} kills ...", flush=True)
            work = Workload(vendors, permits, places)
            asyncio.run(load(run, work, servers, arguments.duration, arguments.kills))
            run.phases["load"] = time.monotonic() - started - sum(run.phases.values())
            print(f"sending {len(run.unanswered)} unanswered requests again ...", flush=True)
            asyncio.run(settle(run, servers))
            run.phases["resend"] = time.monotonic() - started - sum(run.phases.values())
        finally:
            for server in servers:
                server.stop()
        book = ledger(run, url, seeded)
        arguments.ledger.parent.mkdir(parents=True, exist_ok=True)
        arguments.ledger.write_text(json.dumps(book))
        run.violations.update(asyncio.run(check(book, run.statuses)))
        run.phases["check"] = time.monotonic() - started - sum(run.phases.values())
        print(f"ledger: {arguments.ledger}; the servers' log: {log}")
    report(run, arguments.json)
    sys.exit(1 if run.violations else 0)


if __name__ == "__main__":
    main()
