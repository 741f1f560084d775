"""The mixed workload of `make load`: personas over keep-alive connections, and what each request's answer counts as.

Every client is one person on one connection. Vendors sign in once (before the window opens), then browse
(activities, designated places, a venue's map with its pitches), run exemption checks, file key-group claims,
submit applications and ask for road occupancy; every creating POST carries an Idempotency-Key. Department
reviewers open a task from their queue and decide it with the task's ETag in If-Match; street offices do the same
with pending key-group claims. A few clients sign new vendors up, paced (each costs an argon2id hash).

Between two requests a person reads the screen: each client pauses for a think time drawn from an
exponential distribution of the plan's mean (capped at five means), so 200 clients offer what 200 busy people
would, not what 200 scripts looping back to back would. A think time of 0 is that loop: the saturation run, which
measures how much the service can serve, not how fast it answers its users.

Each answer is one of: expected (the status the request must get), conflict (409/412, a race between
reviewers, or two writes meeting: counted apart) or error (5xx, a dropped connection, any other status, or a
201 that does not say what it must).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from stdnum.cn.ric import calc_check_digit

from bench import permits as permits_bench
from bench import venues as venues_bench
from bench.load_http import Answer, Connection, ConnectionLost
from bench.load_seed import STAFF_PASSWORD, VENDOR_PASSWORD, City, Vendor
from bench.seed import CODE

API = "/api/v1"
CONFLICT = frozenset({409, 412})
GROUP_DETAILS: dict[str, dict[str, str]] = {
    "college_graduate": {"graduation_on": "2026-07-01"},
    "laid_off_unemployed": {"registered_unemployed_since": "2025-11-01"},
    "migrant_worker": {"returned_on": "2026-02-01"},
    "employment_difficulty": {"category": "long_term_unemployed", "since": "2025-01-01"},
}
# What a vendor does next, by weight: mostly reading, as a phone app does.
VENDOR_MIX: dict[str, int] = {
    "GET /activities": 20,
    "GET /designated-places": 20,
    "GET /venues/{id}/map": 15,
    "POST /exemption-checks": 15,
    "POST /vendors/{id}/key-group-claims": 5,
    "POST /applications": 5,
    "POST /road-occupancy-requests": 10,
}
EXPECTED: dict[str, int] = {
    "POST /auth/token": 200,
    "GET /activities": 200,
    "GET /designated-places": 200,
    "GET /venues/{id}/map": 200,
    "POST /exemption-checks": 200,
    "POST /vendors (sign-up)": 201,
    "POST /vendors/{id}/key-group-claims": 201,
    "POST /applications": 201,
    "POST /road-occupancy-requests": 201,
    "GET /tasks": 200,
    "GET /tasks/{id}": 200,
    "POST /tasks/{id}/decision": 200,
    "GET /key-group-claims": 200,
    "GET /key-group-claims/{id}": 200,
    "POST /key-group-claims/{id}/decision": 200,
    "GET /bare (baseline)": 200,
}
WORKLOAD_KINDS = tuple(k for k in EXPECTED if k not in ("POST /auth/token", "GET /bare (baseline)"))


@dataclass
class KindStats:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    expected: int = 0
    conflicts: int = 0
    errors: int = 0
    error_statuses: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first error of each status, for the report


class Recorder:
    """Counts the requests that start while the window is open (and, before it, the sign-ins apart)."""

    def __init__(self) -> None:
        self.kinds: dict[str, KindStats] = {}
        self.opened_at = 0.0
        self.closes_at = 0.0

    def open(self, duration: float) -> None:
        self.opened_at = time.perf_counter()
        self.closes_at = self.opened_at + duration

    def running(self) -> bool:
        return time.perf_counter() < self.closes_at

    def record(self, kind: str, started: float, status: str, outcome: str, note: str = "") -> None:
        if started < self.opened_at and kind != "POST /auth/token":
            return
        stats = self.kinds.setdefault(kind, KindStats())
        stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        stats.statuses[status] += 1
        if outcome == "expected":
            stats.expected += 1
        elif outcome == "conflict":
            stats.conflicts += 1
        else:
            stats.errors += 1
            stats.error_statuses[status] += 1
            if not any(sample.startswith(f"{status}:") for sample in stats.samples):  # one per status
                stats.samples.append(f"{status}: {note[:160]}")


class Client:
    """One person on one connection: sends a request and books its outcome."""

    def __init__(self, recorder: Recorder, connection: Connection) -> None:
        self.recorder, self.connection = recorder, connection
        self.headers: dict[str, str] = {}

    async def send(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        check: Callable[[Answer], str | None] | None = None,
    ) -> Answer | None:
        """The answer when it is the expected one, else None (booked as a conflict or an error)."""
        started = time.perf_counter()
        data = None if body is None else msgspec.json.encode(body)
        try:
            answer = await self.connection.request(method, path, headers={**self.headers, **(headers or {})}, body=data)
        except (ConnectionLost, OSError) as exc:
            self.recorder.record(kind, started, "no answer", "error", str(exc))
            return None
        status = str(answer.status)
        if answer.status == EXPECTED[kind]:
            problem = check(answer) if check is not None else None
            if problem is None:
                self.recorder.record(kind, started, status, "expected")
                return answer
            self.recorder.record(kind, started, status, "error", problem)
            return None
        outcome = "conflict" if answer.status in CONFLICT else "error"
        self.recorder.record(kind, started, status, outcome, answer.body.decode("utf-8", "replace"))
        return None

    async def sign_in(self, username: str, password: str, attempts: int = 3) -> bool:
        """Sign in, trying again after a failure as a person would (each failure stays in the report)."""
        body = {"username": username, "password": password}
        answer = None
        for _ in range(attempts):
            answer = await self.send("POST /auth/token", "POST", f"{API}/auth/token", body)
            if answer is not None:
                break
        if answer is None:
            return False
        token = answer.json()["access_token"]  # type: ignore[index]
        self.headers = {"Authorization": f"Bearer {token}"}
        return True


def _created() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


class Slots:
    """Road footprints handed out so that no two requests of a run meet in space and time: zone after zone,
    footprint after footprint along each, then the next hour (06:00–22:00 in the city, from two days ahead)."""

    def __init__(self, zones: list[tuple[str, float, float]]) -> None:
        self.zones, self.next = zones, 0
        self.first = venues_bench.first_road_slot()

    def take(self) -> dict[str, Any]:
        n, self.next = self.next, self.next + 1
        zone_id, lon0, lat0 = self.zones[n % len(self.zones)]
        spot = (n // len(self.zones)) % venues_bench.ZONE_FOOTPRINTS
        slot = n // (len(self.zones) * venues_bench.ZONE_FOOTPRINTS)
        start = self.first + dt.timedelta(days=slot // 16, hours=slot % 16)
        lon = lon0 + (5 + 10 * spot) * venues_bench.DLON
        return {
            "zone_id": zone_id,
            "activity_code": "shoe_repair",
            "periods": [{"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}],
            "footprint": venues_bench._polygon(lon, lat0 + 0.1 * venues_bench.DLAT, 1.5, 1.0),
        }


@dataclass
class Shared:
    """What all personas of a run draw from."""

    city: City
    recorder: Recorder
    slots: Slots
    think_s: float = 0.0
    signups: int = 0
    application_body: dict[str, Any] = field(default_factory=dict)
    exempt_body: dict[str, Any] = field(default_factory=dict)
    required_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        east = permits_bench.Seeded(
            market_point=self.city.market_point, road_point=self.city.road_point, reviewer_tokens={}
        )
        self.application_body = permits_bench.application_body(east)
        self.exempt_body = permits_bench.check_body(east, None)
        lon, lat = self.city.road_point
        self.required_body = {**self.exempt_body, "activity_code": "shoe_repair"}
        self.required_body["location"] = {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}

    async def think(self, rng: random.Random) -> None:
        """A person's pause before their next request (none in the saturation run)."""
        if self.think_s > 0:
            await asyncio.sleep(min(rng.expovariate(1 / self.think_s), 5 * self.think_s))


def _application_check(answer: Answer) -> str | None:
    tasks = answer.json()["tasks"]  # type: ignore[index]
    departments = sorted(t["department"] for t in tasks)
    return None if departments == sorted(permits_bench.DEPARTMENTS) else f"tasks for {departments}"


def _road_check(answer: Answer) -> str | None:
    status = answer.json()["status"]  # type: ignore[index]
    return None if status == "approved" else f"status {status}, not approved"


async def vendor(shared: Shared, client: Client, me: Vendor, signed_in: asyncio.Event) -> None:
    await signed_in.wait()
    rng = random.Random(me.vendor_id)
    groups = list(GROUP_DETAILS)
    rng.shuffle(groups)
    kinds, weights = list(VENDOR_MIX), list(VENDOR_MIX.values())
    # A new user tries everything once (in their own order), then settles into the mix: even a short run
    # exercises every kind, and the reviewers' queues fill from the start.
    first = rng.sample(kinds, len(kinds))
    await shared.think(rng)  # people do not all arrive in the same instant
    while shared.recorder.running():
        kind = first.pop() if first else rng.choices(kinds, weights)[0]
        if kind == "GET /activities":
            await client.send(kind, "GET", f"{API}/activities")
        elif kind == "GET /designated-places":
            lon, lat = rng.choice(shared.city.lookup_points)
            at = venues_bench.LOOKUP_AT.replace("+", "%2B")
            await client.send(kind, "GET", f"{API}/designated-places?lon={lon:.7f}&lat={lat:.7f}&at={at}")
        elif kind == "GET /venues/{id}/map":
            await client.send(kind, "GET", f"{API}/venues/{shared.city.map_venue}/map")
        elif kind == "POST /exemption-checks":
            body = shared.exempt_body if rng.random() < 0.5 else shared.required_body
            await client.send(kind, "POST", f"{API}/exemption-checks", {**body, "vendor_id": me.vendor_id})
        elif kind == "POST /vendors/{id}/key-group-claims" and groups:
            group = groups.pop()
            body = {"group": group, "evidence_document_ids": [me.document_id], "details": GROUP_DETAILS[group]}
            path = f"{API}/vendors/{me.vendor_id}/key-group-claims"
            await client.send(kind, "POST", path, body, headers=_created())
        elif kind == "POST /applications":
            await client.send(
                kind,
                "POST",
                f"{API}/applications",
                shared.application_body,
                headers=_created(),
                check=_application_check,
            )
        elif kind == "POST /road-occupancy-requests":
            await client.send(
                kind,
                "POST",
                f"{API}/road-occupancy-requests",
                shared.slots.take(),
                headers=_created(),
                check=_road_check,
            )
        await shared.think(rng)


async def _decide_from_queue(
    shared: Shared, client: Client, queue: str, item: str, decision: dict[str, str], rng: random.Random
) -> None:
    """Open one item of the queue's first page (at random: reviewers of one desk overlap) and decide it with its
    ETag; an empty queue is looked at again a little later, as a person would."""
    path = f"{API}/{queue}"
    listed = await client.send(f"GET /{queue}", "GET", f"{path}?{item}&limit=20")
    if listed is None:
        return
    items = listed.json()["items"]  # type: ignore[index]
    if not items:
        await asyncio.sleep(0.2)
        return
    chosen = rng.choice(items)["id"]
    opened = await client.send(f"GET /{queue}/{{id}}", "GET", f"{path}/{chosen}")
    if opened is None:
        return
    headers = {"If-Match": opened.headers.get("etag", "")}
    await client.send(f"POST /{queue}/{{id}}/decision", "POST", f"{path}/{chosen}/decision", decision, headers=headers)


async def reviewer(shared: Shared, client: Client, signed_in: asyncio.Event, seed: str) -> None:
    await signed_in.wait()
    rng = random.Random(seed)
    await shared.think(rng)
    while shared.recorder.running():
        await _decide_from_queue(shared, client, "tasks", "status=in_review", {"decision": "approve"}, rng)
        await shared.think(rng)


async def office(shared: Shared, client: Client, signed_in: asyncio.Event, seed: int) -> None:
    await signed_in.wait()
    rng = random.Random(seed)
    await shared.think(rng)
    while shared.recorder.running():
        query = "status=pending&purpose=load-review"
        await _decide_from_queue(shared, client, "key-group-claims", query, {"decision": "verified"}, rng)
        await shared.think(rng)


def _id_number(n: int) -> str:
    """A valid ID number unique to `n` within a run (birth date and sequence from it), random across runs."""
    born = dt.date(1960, 1, 1) + dt.timedelta(days=n % 14_000)
    body = f"110101{born:%Y%m%d}{(n // 14_000 + random.randint(0, 899)) % 1000:03d}"
    return body + calc_check_digit(body + "0")


async def signer(shared: Shared, client: Client, signed_in: asyncio.Event, interval: float) -> None:
    """New vendors signing up, one every `interval` seconds from this client (argon2id makes each costly)."""
    await signed_in.wait()
    await asyncio.sleep(random.uniform(0, interval))
    while shared.recorder.running():
        started = time.perf_counter()
        shared.signups += 1
        n = shared.signups
        body = {
            "username": f"load_signup_{uuid.uuid4().hex[:12]}",
            "password": "load-signup-password",
            "name": "新摊主",
            "id_number": _id_number(n),
            "phone": f"139{random.randint(0, 99_999_999):08d}",
            "residence_jurisdiction": CODE,
        }
        await client.send("POST /vendors (sign-up)", "POST", f"{API}/vendors", body, headers=_created())
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))


async def bare(recorder: Recorder, client: Client, signed_in: asyncio.Event) -> None:
    await signed_in.wait()
    while recorder.running():
        await client.send("GET /bare (baseline)", "GET", "/bare")


@dataclass
class Plan:
    clients: int
    offices: int
    reviewers: int  # per department
    signup_clients: int
    signups_per_s: float
    think_s: float = 0.0
    # People arrive over the morning, not in one instant: all 200 at once hold their sign-in transactions open
    # while argon2id queues for the two cores, past the 10 s idle-in-transaction timeout (500s).
    sign_in_concurrency: int = 4

    @property
    def vendors(self) -> int:
        return self.clients - self.offices - self.reviewers * len(permits_bench.DEPARTMENTS) - self.signup_clients


def plan_for(clients: int, signups_per_s: float, sign_in_concurrency: int = 4, think_s: float = 0.0) -> Plan:
    """Mostly vendors; staff and sign-ups scale with the crowd but stay a few."""
    reviewers = max(1, clients // 50)
    offices = max(1, clients // 50)
    signup_clients = max(1, clients // 100)
    plan = Plan(clients, offices, reviewers, signup_clients, signups_per_s, think_s, sign_in_concurrency)
    if plan.vendors < 1:
        raise SystemExit(f"--clients {clients} leaves no vendor: at least {clients - plan.vendors + 1} are needed")
    return plan


async def run_mixed(
    host: str, port: int, city: City, plan: Plan, duration: float, window: Callable[[bool], None]
) -> tuple[Recorder, float]:
    """Sign everyone in, then run the window (`window(True)` as it opens, `window(False)` once the last answer is
    in); returns the recorder and the generator's CPU share of one core over the window."""
    recorder = Recorder()
    shared = Shared(city=city, recorder=recorder, slots=Slots(city.road_zones), think_s=plan.think_s)
    signed_in = asyncio.Event()
    logins: list[Awaitable[bool]] = []
    personas: list[Awaitable[None]] = []
    connections: list[Connection] = []

    def client() -> Client:
        connections.append(Connection(host, port))
        return Client(recorder, connections[-1])

    for me in city.vendors[: plan.vendors]:
        c = client()
        logins.append(c.sign_in(me.username, VENDOR_PASSWORD))
        personas.append(vendor(shared, c, me, signed_in))
    for n, name in enumerate(city.offices[: plan.offices]):
        c = client()
        logins.append(c.sign_in(name, STAFF_PASSWORD))
        personas.append(office(shared, c, signed_in, n))
    for department, names in city.reviewers.items():
        for n, name in enumerate(names[: plan.reviewers]):
            c = client()
            logins.append(c.sign_in(name, STAFF_PASSWORD))
            personas.append(reviewer(shared, c, signed_in, f"{department} {n}"))
    for _ in range(plan.signup_clients):
        personas.append(signer(shared, client(), signed_in, plan.signup_clients / plan.signups_per_s))
    tasks = [asyncio.ensure_future(p) for p in personas]
    gate = asyncio.Semaphore(plan.sign_in_concurrency)

    async def gated(login: Awaitable[bool]) -> bool:
        async with gate:
            return await login

    signed = await asyncio.gather(*(gated(login) for login in logins))
    if not all(signed):
        for task in tasks:
            task.cancel()
        samples = recorder.kinds["POST /auth/token"].samples
        raise SystemExit(f"{signed.count(False)} of {len(signed)} accounts could not sign in (3 attempts): {samples}")
    window(True)
    cpu, recorder_start = time.process_time(), time.perf_counter()
    recorder.open(duration)
    signed_in.set()
    await asyncio.gather(*tasks)
    window(False)
    share = (time.process_time() - cpu) / (time.perf_counter() - recorder_start)
    for c in connections:
        c.close()
    return recorder, share


async def run_bare(
    host: str, port: int, clients: int, duration: float, window: Callable[[bool], None]
) -> tuple[Recorder, float]:
    recorder = Recorder()
    signed_in = asyncio.Event()
    connections = [Connection(host, port) for _ in range(clients)]
    tasks = [asyncio.ensure_future(bare(recorder, Client(recorder, c), signed_in)) for c in connections]
    window(True)
    cpu, started = time.process_time(), time.perf_counter()
    recorder.open(duration)
    signed_in.set()
    await asyncio.gather(*tasks)
    window(False)
    share = (time.process_time() - cpu) / (time.perf_counter() - started)
    for c in connections:
        c.close()
    return recorder, share
