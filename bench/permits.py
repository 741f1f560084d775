"""The permits part of `make bench`: the exemption check with its decision stored, and applications through three
departments end to end.

Seeded by direct SQL (no service code) in a street of its own, more than 3 km east of bench/seed.py's square, so
the exemption rules' 3 km search for the nearest designated place meets this street's one zone instead of the
10,000 of the lookup grid:

- one designated zone (every day 06:00–22:00, farm produce and daily necessities, with its designation): a vendor
  asking to sell vegetables there is `exempt`, and with a vendor named the check gets a public reference;
- one sidewalk road zone with no joint approval, 400 m from it: shoe repair there needs the business licence
  (market regulation) and the road occupation (urban management and the traffic police), three departments;
- one reviewer account for each of the three departments.

The end-to-end part drives aiohttp clients on uvloop (`FLOW_CLIENTS` at once): each vendor submits one application,
and each of its three tasks joins the queue the same clients drain, so submissions and decisions interleave as they
would in a day's work. Its baseline is the same harness sending as many POSTs to the raw asyncpg insert endpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import msgspec
import uvloop

from bench.venues import CITY, DLAT, DLON, _insert_venues, _polygon, _venue
from core.auth import Principal, issue_token
from core.settings import Settings

CODE = "110105001001"  # a street of Chaoyang
MIN_LON, MIN_LAT, MAX_LON, MAX_LAT = 116.47, 39.92, 116.49, 39.94
MARKET_LON, MARKET_LAT = 116.475, 39.925  # south-west corner of the 60 × 60 m designated zone
ROAD_LON, ROAD_LAT = 116.475 + 400 * DLON, 39.925  # south-west corner of the 100 × 6 m road zone
DEPARTMENTS = ("market_regulation", "urban_management", "traffic_police")
APPLICATIONS = int(os.environ.get("BENCH_APPLICATIONS", "1000"))
FLOW_CLIENTS = int(os.environ.get("BENCH_FLOW_CLIENTS", "48"))
CHECK_VENDORS = 5000  # the wrk script rotates over this many vendors' tokens


@dataclass
class Seeded:
    market_point: tuple[float, float]
    road_point: tuple[float, float]
    reviewer_tokens: dict[str, str]  # department → token
    figures: dict[str, float] = field(default_factory=dict)


async def seed(url: str, env: dict[str, str]) -> Seeded:
    """The street, its two zones and the three reviewers (after bench/seed.py and bench/venues.py)."""
    settings = Settings.from_env(env)
    office = uuid.uuid4()
    reviewers = {department: uuid.uuid4() for department in DEPARTMENTS}
    boundary = _polygon(MIN_LON, MIN_LAT, (MAX_LON - MIN_LON) / DLON, (MAX_LAT - MIN_LAT) / DLAT)
    connection = await asyncpg.connect(url)
    try:
        await connection.set_type_codec(
            "jsonb",
            encoder=lambda text: b"\x01" + text.encode(),
            decoder=lambda data: data[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO registry_jurisdiction (code, name, boundary, min_lon, min_lat, max_lon, max_lat)"
                " VALUES ($1, 'Bench east street', $2, $3, $4, $5, $6)",
                CODE,
                json.dumps(boundary),
                MIN_LON,
                MIN_LAT,
                MAX_LON,
                MAX_LAT,
            )
            await connection.execute(
                "INSERT INTO registry_account (id, username, password_hash, role, jurisdiction_code)"
                " VALUES ($1, 'bench_east_office', 'x', 'street_office', $2)",
                office,
                CODE,
            )
            await connection.executemany(
                "INSERT INTO registry_account (id, username, password_hash, role, department_code)"
                " VALUES ($1, $2, 'x', 'department', $3)",
                [(account, f"bench_{department}", department) for department, account in reviewers.items()],
            )
            market = _venue(
                office,
                "朝阳指定经营区",
                "designated_zone",
                _polygon(MARKET_LON, MARKET_LAT, 60, 60),
                ["agricultural_products", "daily_necessities"],
                jurisdiction_code=CODE,
                designation_authority="北京市朝阳区人民政府",
                designation_document_number="朝政发〔2026〕7号",
                designated_on=dt.date(2026, 3, 1),
            )
            road = _venue(
                office,
                "朝阳人行道",
                "road_zone",
                _polygon(ROAD_LON, ROAD_LAT, 100, 6),
                ["convenience_services", "daily_necessities"],
                jurisdiction_code=CODE,
                sidewalk_width_m=6.0,
            )
            await _insert_venues(connection, [market, road])
            await connection.execute("UPDATE venues_change_counter SET counter = counter + 1")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    auth = msgspec.structs.replace(settings.auth, token_ttl_seconds=3600)
    return Seeded(
        market_point=(MARKET_LON + 30 * DLON, MARKET_LAT + 30 * DLAT),
        road_point=(ROAD_LON + 50 * DLON, ROAD_LAT + 3 * DLAT),
        reviewer_tokens={
            department: issue_token(auth, Principal(account_id=account, role="department", department_code=department))
            for department, account in reviewers.items()
        },
    )


def _period(day_offset: int, hour: int) -> dict[str, str]:
    """An hour of a day `day_offset` days from now in the city (real time: the served app judges by its clock)."""
    day = (dt.datetime.now(CITY) + dt.timedelta(days=day_offset)).date()
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=CITY)
    return {"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}


def check_body(seeded: Seeded, vendor_id: str | None) -> dict[str, Any]:
    lon, lat = seeded.market_point
    body: dict[str, Any] = {
        "activity_code": "vegetables_fruit",
        "location": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "periods": [_period(2, 7)],
    }
    if vendor_id is not None:
        body["vendor_id"] = vendor_id
    return body


def application_body(seeded: Seeded) -> dict[str, Any]:
    lon, lat = seeded.road_point
    return {
        "activity_code": "shoe_repair",
        "location": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "periods": [_period(3, 9)],
    }


def check_script(seeded: Seeded, vendors: Sequence[dict[str, str]], path: str) -> str:
    """POST `path` as the next vendor, naming them (the same bodies for flexreg and the baseline)."""
    rows = ",\n".join(
        "{{{token}, {body}}}".format(
            token=json.dumps(f"Bearer {v['token']}"),
            body=json.dumps(json.dumps(check_body(seeded, v["vendor_id"]))),
        )
        for v in vendors[:CHECK_VENDORS]
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
  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json", ["Authorization"] = v[1]}}, v[2])
end
"""


def probe(base: str, path: str, body: dict[str, Any], token: str | None) -> tuple[int, str]:
    """One request as the load sends it: (status, body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --- End to end: submit, then three departments decide, over HTTP -------------------------------------------------


@dataclass
class Flow:
    wall_s: float = 0.0
    requests: int = 0
    submit_ms: list[float] = field(default_factory=list)
    decide_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    application_ids: list[str] = field(default_factory=list)


async def _drain(
    queue: asyncio.Queue[Any], clients: int, work: Callable[[aiohttp.ClientSession, Any], Any], base: str
) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            while True:
                item = await queue.get()
                try:
                    await work(client, item)
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(clients)]
        await queue.join()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def _post(
    client: aiohttp.ClientSession, path: str, body: dict[str, Any] | bytes, headers: dict[str, str]
) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with client.post(path, data=data, headers={"Content-Type": "application/json", **headers}) as answer:
        return answer.status, await answer.text()


async def _flow(base: str, seeded: Seeded, vendors: Sequence[dict[str, str]]) -> Flow:
    flow = Flow()
    body = application_body(seeded)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for vendor in vendors:
        queue.put_nowait(("submit", vendor["token"]))

    async def work(client: aiohttp.ClientSession, item: tuple[str, ...]) -> None:
        flow.requests += 1
        started = time.perf_counter()
        if item[0] == "submit":
            status, text = await _post(client, "/api/v1/applications", body, {"Authorization": f"Bearer {item[1]}"})
            flow.submit_ms.append((time.perf_counter() - started) * 1000)
            if status != 201:
                flow.errors.append(f"submit {status}: {text[:200]}")
                return
            out = json.loads(text)
            flow.application_ids.append(out["id"])
            departments = sorted(t["department"] for t in out["tasks"])
            if departments != sorted(DEPARTMENTS):
                flow.errors.append(f"submit opened tasks for {departments}, not the three departments")
                return
            for task in out["tasks"]:
                queue.put_nowait(("decide", task["id"], task["department"], task["etag"]))
            return
        _, task_id, department, etag = item
        headers = {"Authorization": f"Bearer {seeded.reviewer_tokens[department]}", "If-Match": etag}
        status, text = await _post(client, f"/api/v1/tasks/{task_id}/decision", {"decision": "approve"}, headers)
        flow.decide_ms.append((time.perf_counter() - started) * 1000)
        if status != 200:
            flow.errors.append(f"decide {status}: {text[:200]}")

    started = time.perf_counter()
    await _drain(queue, FLOW_CLIENTS, work, base)
    flow.wall_s = time.perf_counter() - started
    return flow


async def _harness_baseline(base: str, count: int, body: str) -> Flow:
    """The same clients and queue, `count` POSTs of one raw asyncpg insert each: what the harness itself reaches."""
    flow = Flow()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(count):
        queue.put_nowait(None)
    content = body.encode()

    async def work(client: aiohttp.ClientSession, _: None) -> None:
        flow.requests += 1
        started = time.perf_counter()
        status, text = await _post(client, "/raw-insert", content, {})
        flow.submit_ms.append((time.perf_counter() - started) * 1000)
        if status != 201:
            flow.errors.append(f"raw insert {status}: {text[:200]}")

    started = time.perf_counter()
    await _drain(queue, FLOW_CLIENTS, work, base)
    flow.wall_s = time.perf_counter() - started
    return flow


def measure_harness_baseline(base: str, body: str) -> Flow:
    return uvloop.run(_harness_baseline(base, APPLICATIONS * (1 + len(DEPARTMENTS)), body))


def measure_flow(base: str, seeded: Seeded, vendors: Sequence[dict[str, str]]) -> Flow:
    return uvloop.run(_flow(base, seeded, vendors[:APPLICATIONS]))


async def _verify(url: str, application_ids: Sequence[str]) -> dict[str, int]:
    """What the database holds for the flow's applications: permits, approved applications and tasks."""
    ids = [uuid.UUID(i) for i in application_ids]
    connection = await asyncpg.connect(url)
    try:
        permits = await connection.fetchrow(
            "SELECT count(*) AS permits, count(DISTINCT application_id) AS applications"
            " FROM permits_permit WHERE application_id = ANY($1::uuid[])",
            ids,
        )
        approved = await connection.fetchval(
            "SELECT count(*) FROM permits_application a JOIN permits_permit p ON p.application_id = a.id"
            " AND p.number = a.permit_number WHERE a.id = ANY($1::uuid[]) AND a.status = 'approved'",
            ids,
        )
        tasks = await connection.fetchval(
            "SELECT count(*) FROM permits_task WHERE application_id = ANY($1::uuid[]) AND status = 'approved'", ids
        )
    finally:
        await connection.close()
    return {
        "permits": int(permits["permits"]),
        "permitted applications": int(permits["applications"]),
        "approved with their permit": int(approved),
        "tasks approved": int(tasks),
    }


def verify(url: str, flow: Flow) -> dict[str, int]:
    return asyncio.run(_verify(url, flow.application_ids))


# --- Report ----------------------------------------------------------------------------------------------------


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def report(
    http: dict[str, dict[str, float]],
    skipped: dict[str, str],
    flow: Flow | None,
    harness: Flow | None,
    stored: dict[str, int] | None,
    printer: Callable[[str], None] = print,
) -> None:
    """The permits figures, each against its same-run baseline; aims printed as met / NOT MET."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    if http:
        width = max(len(name) for name in http) + 2
        printer(f"\n{'permits endpoint':{width}} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
        for name, figures in http.items():
            printer(
                f"{name:{width}} {figures['rps']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
                f"{figures['errors']:8.0f}"
            )
    aims = [
        ("POST /exemption-checks", "raw asyncpg insert POST (baseline)", 0.5),
        ("POST /exemption-checks", "raw asyncpg exemption-check-sized insert POST (baseline)", 0.5),
    ]
    printer(f"\n{'permits, over HTTP':38} {'against':58} {'ratio':>6} {'aim':>5}")
    for name, base, target in aims:
        if name in skipped:
            printer(f"{name:38} skipped: {skipped[name]}")
            break
        if name not in http or base not in http:
            continue
        if http[name]["errors"] or http[base]["errors"]:
            printer(
                f"{name:38} non-2xx answers ({http[name]['errors']:.0f}, baseline {http[base]['errors']:.0f}): no ratio"
            )
            continue
        ratio = http[name]["rps"] / http[base]["rps"]
        printer(f"{name:38} {base:58} {ratio:5.2f}x {target:4.1f}x {verdict(ratio >= target)}")
    title = "applications through three departments end to end"
    if flow is None or harness is None:
        printer(f"\npermits: {title} skipped: {skipped.get(title, 'not run')}")
        return
    count = len(flow.application_ids)
    printer(
        f"\npermits: {APPLICATIONS} {title} ({FLOW_CLIENTS} aiohttp clients; each application's 3 tasks "
        f"({', '.join(DEPARTMENTS)}) approved with If-Match as they arrive)"
    )
    printer(
        f"  wall {flow.wall_s:.1f} s; {count / flow.wall_s:.1f} applications/s; {flow.requests} requests, "
        f"{flow.requests / flow.wall_s:.0f} req/s; errors {len(flow.errors)}"
    )
    printer(
        f"  submit p50 {_pct(flow.submit_ms, 0.5):.1f} ms, p99 {_pct(flow.submit_ms, 0.99):.1f} ms; "
        f"decide p50 {_pct(flow.decide_ms, 0.5):.1f} ms, p99 {_pct(flow.decide_ms, 0.99):.1f} ms "
        f"(mean {statistics.fmean(flow.decide_ms) if flow.decide_ms else 0.0:.1f} ms)"
    )
    harness_rps = harness.requests / harness.wall_s
    printer(
        f"  baseline, the same harness: {harness.requests} POSTs to the raw asyncpg insert endpoint, "
        f"{harness_rps:.0f} req/s (p50 {_pct(harness.submit_ms, 0.5):.1f} ms, p99 {_pct(harness.submit_ms, 0.99):.1f} "
        f"ms, errors {len(harness.errors)}); ratio {flow.requests / flow.wall_s / harness_rps:.2f}x"
    )
    for error in dict.fromkeys(flow.errors[:5]):
        printer(f"  error: {error}")
    if stored is not None:
        permits = stored["permits"], stored["permitted applications"], stored["approved with their permit"]
        ok = (
            set(permits) == {APPLICATIONS}
            and stored["tasks approved"] == APPLICATIONS * len(DEPARTMENTS)
            and not flow.errors
        )
        printer(
            f"  database: {stored['permits']} permits for {stored['permitted applications']} applications, "
            f"{stored['approved with their permit']} approved with their permit, {stored['tasks approved']} tasks "
            f"approved; aim {APPLICATIONS} permits, one per application, 0 errors: {verdict(ok)}"
        )
