"""The venues part of `make bench`: the draw, the designated-place lookup, pitch creation and road approval.

Everything is seeded by direct SQL into the tables of venues/models.py (bulk statements, no service code), in the
bench jurisdiction of bench/seed.py (a 2 km square of Dongcheng):

- 10,000 designated zones on a 100 × 100 grid over the whole square (the lookup);
- 10,000 restricted features (hydrants and intersections) over the square, kept 250 m or more from the pitch
  venues and road zones in its north-east corner, so every siting check meets thousands of candidates within the
  rules' 1 km search radius and still passes;
- 32 community spaces of 60 × 60 m for new pitches (a venue's pitches are drawn under its row lock, so requests
  rotate over venues as many offices would), and a 33rd for the probe request;
- 32 sidewalk road zones with their joint approval for new requests, a 33rd for the probe, and 50,000 approved
  occupancies in the city: 500 in each bench zone (in the past, so they meet the new requests in the zone's
  queries but not in time) and the rest in 34 other zones;
- for the draw: a venue with 3,000 pitches and rounds (disjoint terms) of 20,000 applications of 5 choices each.

The pitch and road parts run only against a flexreg that serves those endpoints (API.md); otherwise they are
skipped with the reason printed, so the bench runs before and after they are merged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import math
import os
import random
import statistics
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.seed import CODE
from core.auth import Principal, issue_token
from core.db import driver_connection, sqlalchemy_url
from core.settings import Settings
from venues import draw, geo, round_results
from venues.designated import DesignatedIndex, find_designated_places

CITY = ZoneInfo("Asia/Shanghai")
LOOKUP_AT = "2026-06-15T10:00:00+08:00"
# Metres to degrees at the square's latitude (39.93°N): good to well under a centimetre over 100 m.
DLAT = 1 / 111_320
DLON = 1 / (111_320 * math.cos(math.radians(39.93)))
MIN_LON, MIN_LAT, MAX_LON, MAX_LAT = 116.40, 39.92, 116.42, 39.94
# The north-east corner holding the pitch venues (south part) and road zones (north part); features keep away.
CORNER_LON, CORNER_LAT = 116.412, 39.934
CLEAR_LON, CLEAR_LAT = 116.408, 39.930  # ≥ 340 m / 444 m from the corner: beyond any default buffer (≤ 200 m)
VENUES = 32
VENUE_M = 60.0
ZONE_LENGTH_M, ZONE_WIDTH_M = 100.0, 6.0
ZONE_FOOTPRINTS = 10  # footprints of 1.5 × 1 m along each zone's southern edge, 10 m apart
DRAW_APPLICANTS, DRAW_PITCHES, DRAW_CHOICES = 20_000, 3_000, 5
DRAW_RUNS = 3  # timed runs (median); one more run measures peak memory (tracemalloc slows it)
EVERY_DAY = json.dumps([{"days": [1, 2, 3, 4, 5, 6, 7], "start": "06:00", "end": "22:00"}])


def _polygon(lon0: float, lat0: float, width_m: float, height_m: float) -> dict[str, Any]:
    lon1, lat1 = lon0 + width_m * DLON, lat0 + height_m * DLAT
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]}


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    ring = geometry["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


@dataclass
class Seeded:
    office_token: str
    lookup_points: list[tuple[float, float]]
    pitch_venues: list[tuple[uuid.UUID, float, float]]  # id, south-west corner
    pitch_probe: tuple[uuid.UUID, float, float]  # a venue of its own, as pitch_venues
    road_zones: list[tuple[uuid.UUID, float, float]]
    road_probe: tuple[uuid.UUID, float, float]
    draw_rounds: list[uuid.UUID]
    office_id: uuid.UUID
    figures: dict[str, float] = field(default_factory=dict)


_VENUE_COLUMNS = (
    "id",
    "jurisdiction_code",
    "name",
    "kind",
    "geometry",
    "min_lon",
    "min_lat",
    "max_lon",
    "max_lat",
    "area_m2",
    "schedule",
    "valid_from",
    "valid_to",
    "allowed_categories",
    "is_carriageway",
    "sidewalk_width_m",
    "designation_authority",
    "designation_document_number",
    "designated_on",
    "joint_approval_road_document",
    "joint_approval_police_document",
    "joint_approval_valid_to",
    "created_by",
)


def _venue(
    office: uuid.UUID, name: str, kind: str, geometry: dict[str, Any], categories: list[str], **extra: Any
) -> tuple[Any, ...]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "jurisdiction_code": CODE,
        "name": name,
        "kind": kind,
        "geometry": json.dumps(geometry),
        **dict(zip(("min_lon", "min_lat", "max_lon", "max_lat"), _bounds(geometry), strict=True)),
        "area_m2": 0.0,
        "schedule": EVERY_DAY,
        "valid_from": dt.date(2026, 1, 1),
        "valid_to": None,
        "allowed_categories": categories,
        "is_carriageway": False,
        "sidewalk_width_m": None,
        "designation_authority": None,
        "designation_document_number": None,
        "designated_on": None,
        "joint_approval_road_document": None,
        "joint_approval_police_document": None,
        "joint_approval_valid_to": None,
        "created_by": office,
        **extra,
    }
    return tuple(row[column] for column in _VENUE_COLUMNS)


async def _insert_venues(connection: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    await connection.copy_records_to_table("venues_venue", records=rows, columns=_VENUE_COLUMNS)


def _pitch_row(venue: uuid.UUID, office: uuid.UUID, label: str, geometry: dict[str, Any]) -> tuple[Any, ...]:
    return (uuid.uuid4(), venue, 1, label, json.dumps(geometry), *_bounds(geometry), 1.5, "[]", "bench", office)


_FEATURE_COLUMNS = (
    "id",
    "jurisdiction_code",
    "kind",
    "geometry",
    "min_lon",
    "min_lat",
    "max_lon",
    "max_lat",
    "created_by",
)
_BASIS = "城市道路管理条例第31条"

_PITCH_COLUMNS = (
    "id",
    "venue_id",
    "venue_revision",
    "label",
    "geometry",
    "min_lon",
    "min_lat",
    "max_lon",
    "max_lat",
    "area_m2",
    "checks",
    "rules_version",
    "created_by",
)


async def seed(url: str, env: dict[str, str]) -> Seeded:
    """Seed the venues data (after bench/seed.py made the jurisdiction and its vendors)."""
    started = time.perf_counter()
    rng = random.Random(20260615)
    settings = Settings.from_env(env)
    office = uuid.uuid4()
    connection = await asyncpg.connect(url)
    try:
        # JSONB columns take JSON text, through COPY's binary format too (a version byte, then the text).
        await connection.set_type_codec(
            "jsonb",
            encoder=lambda text: b"\x01" + text.encode(),
            decoder=lambda data: data[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO registry_account (id, username, password_hash, role, jurisdiction_code)"
                " VALUES ($1, 'bench_office', 'x', 'street_office', $2)",
                office,
                CODE,
            )
            # 10,000 designated zones, 100 × 100 over the square; each covers most of its cell.
            cell_lon, cell_lat = (MAX_LON - MIN_LON) / 100, (MAX_LAT - MIN_LAT) / 100
            zones, points = [], []
            for i in range(100):
                for j in range(100):
                    lon0, lat0 = MIN_LON + i * cell_lon, MIN_LAT + j * cell_lat
                    square = _polygon(lon0, lat0, 0.8 * cell_lon / DLON, 0.8 * cell_lat / DLAT)
                    zones.append(
                        _venue(
                            office,
                            f"指定经营区 {i:02d}-{j:02d}",
                            "designated_zone",
                            square,
                            ["agricultural_products", "daily_necessities"],
                            designation_authority="北京市东城区人民政府",
                            designation_document_number=f"东政发〔2026〕{i * 100 + j}号",
                            designated_on=dt.date(2026, 3, 1),
                        )
                    )
                    points.append((lon0 + 0.4 * cell_lon, lat0 + 0.4 * cell_lat))
            await _insert_venues(connection, zones)
            rng.shuffle(points)

            # 10,000 restricted features, outside the clear corner.
            features = []
            while len(features) < 10_000:
                lon, lat = rng.uniform(MIN_LON, MAX_LON), rng.uniform(MIN_LAT, MAX_LAT)
                if lon > CLEAR_LON and lat > CLEAR_LAT:
                    continue
                kind = "fire_hydrant" if len(features) % 2 else "intersection"
                point = json.dumps({"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]})
                features.append((uuid.uuid4(), CODE, kind, point, lon, lat, lon, lat, office))
            await connection.copy_records_to_table(
                "venues_restricted_feature",
                records=features,
                columns=_FEATURE_COLUMNS,
            )

            # Pitch venues: 8 × 4 (+ the probe's) community spaces in the corner's southern part.
            pitch_venues: list[tuple[uuid.UUID, float, float]] = []
            rows = []
            for n in range(VENUES + 1):
                lon0 = CORNER_LON + (n % 8) * (VENUE_M + 2) * DLON
                lat0 = CORNER_LAT + (n // 8) * (VENUE_M + 2) * DLAT
                row = _venue(
                    office,
                    f"社区服务中心 {n}",
                    "community_space",
                    _polygon(lon0, lat0, VENUE_M, VENUE_M),
                    ["daily_necessities", "convenience_services"],
                )
                rows.append(row)
                pitch_venues.append((row[0], lon0, lat0))
            await _insert_venues(connection, rows)

            # Road zones: 32 (+ the probe's) sidewalk strips with their joint approval, north of the venues.
            road_zones: list[tuple[uuid.UUID, float, float]] = []
            rows = []
            first_lat = CORNER_LAT + 5 * (VENUE_M + 2) * DLAT
            for n in range(VENUES + 1 + 34):
                lon0 = CORNER_LON + (n % 3) * (ZONE_LENGTH_M + 5) * DLON
                lat0 = first_lat + (n // 3) * (ZONE_WIDTH_M + 3) * DLAT
                row = _venue(
                    office,
                    f"夜市人行道 {n}",
                    "road_zone",
                    _polygon(lon0, lat0, ZONE_LENGTH_M, ZONE_WIDTH_M),
                    ["convenience_services", "daily_necessities"],
                    sidewalk_width_m=ZONE_WIDTH_M,
                    joint_approval_road_document=f"东城路政许〔2026〕{n}号",
                    joint_approval_police_document=f"东公交许〔2026〕{n}号",
                    joint_approval_valid_to=dt.date(2030, 12, 31),
                )
                rows.append(row)
                road_zones.append((row[0], lon0, lat0))
            await _insert_venues(connection, rows)

            # 50,000 approved occupancies in the city, all in the past (the last 200 days).
            vendors = [r[0] for r in await connection.fetch("SELECT id FROM registry_vendor LIMIT 5000")]
            now = dt.datetime.now(dt.UTC)
            occupancies, periods = [], []
            for k in range(50_000):
                zone_id, lon0, lat0 = road_zones[k % len(road_zones)]
                spot = (k // len(road_zones)) % ZONE_FOOTPRINTS
                footprint = _polygon(lon0 + (5 + 10 * spot) * DLON, lat0 + 0.1 * DLAT, 1.5, 1.0)
                start = (now - dt.timedelta(days=1 + (k % 200), hours=k % 7)).replace(minute=0, second=0, microsecond=0)
                end = start + dt.timedelta(hours=1)
                during = asyncpg.Range(start, end, lower_inc=True, upper_inc=False)
                occupancy = uuid.uuid4()
                vendor = vendors[k % len(vendors)]
                shape = (json.dumps(footprint), *_bounds(footprint), 1.5)
                decided = ("[]", "bench", "approved", 0, _BASIS, start)
                occupancies.append((occupancy, zone_id, 1, vendor, "shoe_repair", *shape, during, *decided))
                periods.append((occupancy, 0, during))
            await connection.copy_records_to_table(
                "venues_road_occupancy",
                records=occupancies,
                columns=(
                    "id",
                    "zone_id",
                    "venue_revision",
                    "vendor_id",
                    "activity_code",
                    "footprint",
                    "min_lon",
                    "min_lat",
                    "max_lon",
                    "max_lat",
                    "area_m2",
                    "span",
                    "checks",
                    "rules_version",
                    "status",
                    "fee_cny",
                    "fee_exemption_basis",
                    "decided_at",
                ),
            )
            await connection.copy_records_to_table(
                "venues_road_occupancy_period", records=periods, columns=("occupancy_id", "position", "during")
            )
            draw_rounds = await _seed_draw(connection, office, rng)
            await connection.execute("UPDATE venues_change_counter SET counter = counter + 1")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    token = issue_token(
        msgspec.structs.replace(settings.auth, token_ttl_seconds=3600),
        Principal(account_id=office, role="street_office", jurisdiction_code=CODE),
    )
    seeded = Seeded(
        office_token=token,
        lookup_points=points,
        pitch_venues=pitch_venues[:VENUES],
        pitch_probe=pitch_venues[VENUES],
        road_zones=road_zones[:VENUES],
        road_probe=road_zones[VENUES],
        draw_rounds=draw_rounds,
        office_id=office,
    )
    seeded.figures["seed s"] = time.perf_counter() - started
    return seeded


async def _seed_draw(connection: asyncpg.Connection, office: uuid.UUID, rng: random.Random) -> list[uuid.UUID]:
    """A venue with 3,000 pitches, and DRAW_RUNS + 1 rounds over them (one month each, disjoint) of 20,000
    applications with 5 distinct random choices each, closed yesterday."""
    venue = _venue(office, "便民摊位区", "community_space", _polygon(116.401, 39.921, 400, 400), ["daily_necessities"])
    await _insert_venues(connection, [venue])
    pitches = [
        _pitch_row(
            venue[0], office, f"D-{n}", _polygon(116.401 + (n % 60) * 6 * DLON, 39.921 + (n // 60) * 6 * DLAT, 1, 1.5)
        )
        for n in range(DRAW_PITCHES)
    ]
    await connection.copy_records_to_table("venues_pitch", records=pitches, columns=_PITCH_COLUMNS)
    numbers = dict(await connection.fetch("SELECT id, pitch_no FROM venues_pitch WHERE venue_id = $1", venue[0]))
    pitch_ids = [row[0] for row in pitches]
    vendors = [r[0] for r in await connection.fetch("SELECT id FROM registry_vendor LIMIT $1", DRAW_APPLICANTS)]
    if len(vendors) < DRAW_APPLICANTS:
        raise SystemExit(f"the draw needs {DRAW_APPLICANTS} vendors; raise BENCH_VENDORS")
    closed = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    rounds = []
    for run in range(DRAW_RUNS + 1):
        round_id, secret = uuid.uuid4(), os.urandom(32)
        term_start = dt.date(2027 + run // 12, run % 12 + 1, 1)
        term_end = term_start + dt.timedelta(days=27)
        await connection.execute(
            "INSERT INTO venues_allocation_round (id, jurisdiction_code, name, term_start, term_end,"
            " applications_close_at, priority_tiers, seed, seed_commitment, created_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            round_id,
            CODE,
            f"第{run + 1}期免费摊位",
            term_start,
            term_end,
            closed,
            json.dumps([["laid_off_unemployed", "college_graduate", "migrant_worker", "employment_difficulty"]]),
            secret,
            hashlib.sha256(secret).hexdigest(),
            office,
        )
        await connection.copy_records_to_table(
            "venues_round_pitch",
            records=[(round_id, p, numbers[p], term_start, term_end, k) for k, p in enumerate(pitch_ids)],
            columns=("round_id", "pitch_id", "pitch_no", "term_start", "term_end", "position"),
        )
        await connection.copy_records_to_table(
            "venues_round_application",
            records=[
                (uuid.uuid4(), round_id, vendor, os.urandom(16).hex(), rng.sample(pitch_ids, DRAW_CHOICES), closed)
                for vendor in vendors
            ],
            columns=("id", "round_id", "vendor_id", "applicant_ref", "choices", "submitted_at"),
        )
        rounds.append(round_id)
    return rounds


# --- The draw, in process ------------------------------------------------------------------------------------

_LOAD_PITCHES = "SELECT pitch_id, pitch_no FROM venues_round_pitch WHERE round_id = $1 ORDER BY position"
_LOAD_APPLICATIONS = "SELECT id, vendor_id, applicant_ref, choices FROM venues_round_application WHERE round_id = $1"


async def _draw_once(url: str, round_id: uuid.UUID, office: uuid.UUID) -> tuple[int, float]:
    """One draw through the service (`venues.round_results.run_draw`): load, draw and save, then commit; the seconds
    count from the first statement to the commit, on a connection already open."""
    engine = create_async_engine(sqlalchemy_url(url), pool_size=1)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        async with maker() as session:
            await (await session.connection()).exec_driver_sql("SELECT 1")
            await session.commit()
            started = time.perf_counter()
            result = await round_results.run_draw(
                session, round_id, drawn_by=office, beacon_value=None, now=dt.datetime.now(dt.UTC), zone=CITY
            )
            await session.commit()
            return len(result.assignments), time.perf_counter() - started
    finally:
        await engine.dispose()


async def _pure_draw_input(url: str, round_id: uuid.UUID) -> dict[str, Any]:
    connection = await asyncpg.connect(url)
    try:
        round_ = await connection.fetchrow("SELECT seed FROM venues_allocation_round WHERE id = $1", round_id)
        pitches = await connection.fetch(_LOAD_PITCHES, round_id)
        rows = await connection.fetch(_LOAD_APPLICATIONS, round_id)
    finally:
        await connection.close()
    return {
        "round_id": str(round_id),
        "seed": bytes(round_[0]),
        "beacon_value": None,
        "pitch_ids": [str(p[0]) for p in pitches],
        "applications": [
            draw.Application(applicant_ref=row[2], tier=2, choices=tuple(str(c) for c in row[3])) for row in rows
        ],
    }


def measure_draw(url: str, seeded: Seeded) -> dict[str, float]:
    """Load + draw + save per round (median of DRAW_RUNS), its peak memory, and the pure draw on the same data."""
    timed = []
    assigned = 0
    for round_id in seeded.draw_rounds[:DRAW_RUNS]:
        assigned, seconds = asyncio.run(_draw_once(url, round_id, seeded.office_id))
        timed.append(seconds)
    tracemalloc.start()
    asyncio.run(_draw_once(url, seeded.draw_rounds[DRAW_RUNS], seeded.office_id))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data = asyncio.run(_pure_draw_input(url, seeded.draw_rounds[0]))
    pure = []
    for _ in range(DRAW_RUNS):
        started = time.perf_counter()
        draw.draw(**data)
        pure.append(time.perf_counter() - started)
    return {
        "service s": statistics.median(timed),
        "pure s": statistics.median(pure),
        "peak MB": peak / 1e6,
        "assigned": float(assigned),
    }


# --- The designated-place lookup, in process -----------------------------------------------------------------


async def _lookups(url: str, points: list[tuple[float, float]], count: int) -> dict[str, float]:
    engine = create_async_engine(sqlalchemy_url(url), pool_size=1)
    maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    index = DesignatedIndex(CITY)
    at = dt.datetime.fromisoformat(LOOKUP_AT)
    try:
        async with maker() as session:
            started = time.perf_counter()
            await find_designated_places(session, index, point=geo.point(*points[0]), at=at)
            build = time.perf_counter() - started
            shapes = [geo.point(lon, lat) for lon, lat in points]
            for shape in shapes[:1000]:  # warm-up
                await find_designated_places(session, index, point=shape, at=at)
            times, hits = [], 0
            for k in range(count):
                shape = shapes[k % len(shapes)]
                started = time.perf_counter()
                found = await find_designated_places(session, index, point=shape, at=at)
                times.append(time.perf_counter() - started)
                hits += len(found)
            # The baseline: the counter's SELECT alone, on the same connection (the floor of any checked lookup).
            driver = await driver_connection(session)
            floor = []
            for _ in range(count):
                started = time.perf_counter()
                await driver.fetchrow("SELECT counter FROM venues_change_counter WHERE id = 1")
                floor.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    times.sort()
    floor.sort()
    return {
        "build ms": build * 1000,
        "p50 ms": times[len(times) // 2] * 1000,
        "p99 ms": times[int(len(times) * 0.99)] * 1000,
        "counter p50 ms": floor[len(floor) // 2] * 1000,
        "counter p99 ms": floor[int(len(floor) * 0.99)] * 1000,
        "hits": float(hits),
        "rebuilds": float(index.rebuilds),
        "count": float(count),
    }


def measure_lookup(url: str, seeded: Seeded) -> dict[str, float]:
    return asyncio.run(_lookups(url, seeded.lookup_points, 20_000))


# --- HTTP: wrk scripts -----------------------------------------------------------------------------------------

# A GeoJSON polygon of five positions, for string.format in the wrk scripts.
_RING = 'local RING = \'{"type":"Polygon","coordinates":[[' + ",".join(["[%.7f,%.7f]"] * 5) + "]]}'"

_ROTATE = """
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
"""


def lookup_script(points: Sequence[tuple[float, float]], path: str) -> str:
    """GET `path` for each point in turn (the same URLs for flexreg and the bare endpoint)."""
    urls = ",\n".join(
        json.dumps(f"{path}?lon={lon:.7f}&lat={lat:.7f}&at={LOOKUP_AT.replace('+', '%2B')}") for lon, lat in points
    )
    return f"""
local urls = {{
{urls}
}}
{_ROTATE}
request = function()
  counter = counter + stride
  return wrk.format("GET", urls[(counter % #urls) + 1])
end
"""


def pitch_script(venues: Sequence[tuple[uuid.UUID, float, float]], token: str, *, baseline: bool) -> str:
    """A new 1 × 1.5 m pitch per request, venue after venue, in rows 0.5 m apart: none overlaps another."""
    prefix = "/raw-pitch/" if baseline else "/api/v1/venues/"
    suffix = "" if baseline else "/pitches"
    rows = ",\n".join(f'{{"{prefix}{v}{suffix}", {lon:.9f}, {lat:.9f}}}' for v, lon, lat in venues)
    columns = int(VENUE_M // 1.5) - 1
    return f"""
local venues = {{
{rows}
}}
local DLON, DLAT = {DLON:.12e}, {DLAT:.12e}
{_RING}
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}"}}
{_ROTATE}
request = function()
  counter = counter + stride
  local v = venues[(counter % #venues) + 1]
  local cell = math.floor(counter / #venues)
  local col, row = cell % {columns}, math.floor(cell / {columns})
  local x0, y0 = v[2] + (0.5 + col * 1.5) * DLON, v[3] + (0.5 + row * 2.0) * DLAT
  local x1, y1 = x0 + 1.0 * DLON, y0 + 1.5 * DLAT
  local body = string.format('{{"label":"B-%d","geometry":' .. RING .. '}}',
    cell, x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)
  return wrk.format("POST", v[1], headers, body)
end
"""


def road_script(
    zones: Sequence[tuple[uuid.UUID, float, float]], tokens: Sequence[str], first_slot: dt.datetime, *, baseline: bool
) -> str:
    """A request per vendor, zone after zone, footprint after footprint, then the next hour (06:00–22:00 in the city,
    from `first_slot` on): no two requests overlap in space and time."""
    path = "/raw-road" if baseline else "/api/v1/road-occupancy-requests"
    zone_rows = ",\n".join(f'{{"{z}", {lon:.9f}, {lat:.9f}}}' for z, lon, lat in zones)
    token_rows = ",\n".join(json.dumps(t) for t in tokens)
    return f"""
local zones = {{
{zone_rows}
}}
local tokens = {{
{token_rows}
}}
local DLON, DLAT = {DLON:.12e}, {DLAT:.12e}
local FIRST = {int(first_slot.timestamp())}
{_RING}
{_ROTATE}
request = function()
  counter = counter + stride
  local z = zones[(counter % #zones) + 1]
  local spot = math.floor(counter / #zones) % {ZONE_FOOTPRINTS}
  local slot = math.floor(counter / (#zones * {ZONE_FOOTPRINTS}))
  local start = FIRST + math.floor(slot / 16) * 86400 + (slot % 16) * 3600
  local x0, y0 = z[2] + (5 + 10 * spot) * DLON, z[3] + 0.1 * DLAT
  local x1, y1 = x0 + 1.5 * DLON, y0 + 1.0 * DLAT
  local body = string.format(
    '{{"zone_id":"%s","activity_code":"shoe_repair","periods":[{{"start":"%s","end":"%s"}}],"footprint":'
      .. RING .. '}}',
    z[1], os.date("!%Y-%m-%dT%H:%M:%SZ", start), os.date("!%Y-%m-%dT%H:%M:%SZ", start + 3600),
    x0, y0, x1, y0, x1, y1, x0, y1, x0, y0)
  local token = tokens[(counter % #tokens) + 1]
  local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}}
  return wrk.format("POST", "{path}", headers, body)
end
"""


def first_road_slot() -> dt.datetime:
    """06:00 in the city two days from now (real time: the served app judges periods by its own clock)."""
    day = (dt.datetime.now(CITY) + dt.timedelta(days=2)).date()
    return dt.datetime.combine(day, dt.time(6), tzinfo=CITY)


def served_operation(base: str, method: str, pattern: str) -> bool:
    """Whether the served schema has `method` on a path matching `pattern` (a regex over the path template)."""
    import re

    with urllib.request.urlopen(f"{base}/schema/openapi.json", timeout=10) as answer:
        paths = json.load(answer)["paths"]
    return any(re.fullmatch(pattern, path) and method in item for path, item in paths.items())


def probe(base: str, path: str, body: dict[str, Any], token: str) -> tuple[int, str]:
    """One request as the load will send it: (status, body) — a part whose probe is refused is skipped."""
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def pitch_probe_body(seeded: Seeded) -> dict[str, Any]:
    _, lon0, lat0 = seeded.pitch_probe
    return {"label": "probe", "geometry": _polygon(lon0 + 0.5 * DLON, lat0 + 0.5 * DLAT, 1.0, 1.5)}


def road_probe_body(seeded: Seeded, first: dt.datetime) -> dict[str, Any]:
    zone_id, lon0, lat0 = seeded.road_probe
    start = first + dt.timedelta(hours=1)
    return {
        "zone_id": str(zone_id),
        "activity_code": "shoe_repair",
        "periods": [{"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}],
        "footprint": _polygon(lon0 + 5 * DLON, lat0 + 0.1 * DLAT, 1.5, 1.0),
    }


def report(
    draw_figures: dict[str, float],
    lookup: dict[str, float],
    http: dict[str, dict[str, float]],
    skipped: dict[str, str],
    printer: Callable[[str], None] = print,
) -> None:
    """The venues figures: each against its same-run baseline, aims printed as met / NOT MET."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    via = "through venues.round_results.run_draw"
    printer(
        f"\nvenues: the draw, {DRAW_APPLICANTS} applicants × {DRAW_PITCHES} pitches × {DRAW_CHOICES} choices ({via})"
    )
    printer(
        f"  load + draw + save {draw_figures['service s']:.3f} s (median of {DRAW_RUNS}); pure draw in process "
        f"{draw_figures['pure s']:.3f} s; ratio {draw_figures['service s'] / draw_figures['pure s']:.2f}x the pure "
        f"draw; {draw_figures['assigned']:.0f} assigned"
    )
    printer(
        f"  aim < 1 s: {verdict(draw_figures['service s'] < 1.0)}; peak memory {draw_figures['peak MB']:.0f} MB "
        f"(tracemalloc, load + draw + save), aim < 200 MB: {verdict(draw_figures['peak MB'] < 200)}"
    )
    printer(
        f"\nvenues: designated-place lookup in process over 10,000 zones ({lookup['count']:.0f} calls, each with "
        f"the counter check; index built in {lookup['build ms']:.0f} ms, {lookup['rebuilds']:.0f} build(s))"
    )
    printer(
        f"  p50 {lookup['p50 ms']:.3f} ms, p99 {lookup['p99 ms']:.3f} ms; baseline, the counter SELECT alone on the "
        f"same connection: p50 {lookup['counter p50 ms']:.3f} ms, p99 {lookup['counter p99 ms']:.3f} ms "
        f"(p99 ratio {lookup['p99 ms'] / lookup['counter p99 ms']:.2f}x); {lookup['hits']:.0f} places found"
    )
    printer(f"  aim p99 < 0.2 ms: {verdict(lookup['p99 ms'] < 0.2)}")
    aims = [
        ("GET /designated-places", "bare Litestar GET, designated-sized body (baseline)", 0.7),
        ("POST /venues/{id}/pitches", "raw asyncpg pitch insert POST (baseline)", 0.3),
        ("POST /road-occupancy-requests", "raw asyncpg road insert POST (baseline)", 0.3),
    ]
    printer(f"\n{'venues, over HTTP':38} {'against':52} {'ratio':>6} {'aim':>5}")
    for name, base, target in aims:
        if name in skipped:
            printer(f"{name:38} skipped: {skipped[name]}")
            continue
        if name not in http or base not in http:
            continue
        if http[name]["errors"] or http[base]["errors"]:
            printer(
                f"{name:38} non-2xx answers ({http[name]['errors']:.0f}, baseline {http[base]['errors']:.0f}): no ratio"
            )
            continue
        ratio = http[name]["rps"] / http[base]["rps"]
        printer(f"{name:38} {base:52} {ratio:5.2f}x {target:4.1f}x {verdict(ratio >= target)}")
