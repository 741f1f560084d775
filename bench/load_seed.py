"""The city `make load` runs in: bench/seed.py's vendors and bench/permits.py's street, plus what the mixed
workload needs on top (all by direct SQL, no service code):

- staff accounts with a real password (argon2id with the library's defaults, as sign-up makes them), so every
  persona signs in over HTTP: street offices of the vendors' jurisdiction, and reviewers of the three
  departments an application in the east street needs;
- in the bench square: sidewalk road zones with their joint approval (road requests approved at once), a
  community space with pitches (the map vendors browse), and a grid of designated zones (the lookup).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from bench import permits as permits_bench
from bench import venues as venues_bench
from bench.seed import CODE

ROOT = Path(__file__).resolve().parents[1]
VENDOR_PASSWORD = "bench-password"  # bench/seed.py's shared password
STAFF_PASSWORD = "load-staff-password"
ROAD_ZONES = 32
PITCHES = 40
GRID = 20  # designated zones per side of the square's grid


@dataclass
class Vendor:
    username: str
    vendor_id: str
    document_id: str


@dataclass
class City:
    vendors: list[Vendor]
    offices: list[str]  # usernames
    reviewers: dict[str, list[str]]  # department → usernames
    road_zones: list[tuple[str, float, float]]  # id, south-west corner
    map_venue: str
    lookup_points: list[tuple[float, float]]
    market_point: tuple[float, float]  # exempt: a designated zone of the east street
    road_point: tuple[float, float]  # an application there needs three departments


def seed_vendors(url: str, env: dict[str, str], count: int) -> list[Vendor]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "seed.py"), str(count)],
        check=True,
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    rows: list[dict[str, str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return [
        Vendor(
            username=f"bench_{uuid.UUID(row['account_id']).hex[:12]}",
            vendor_id=row["vendor_id"],
            document_id=row["document_id"],
        )
        for row in rows
    ]


async def seed(url: str, env: dict[str, str], *, vendors: int, offices: int, reviewers: int) -> City:
    """The whole city; `reviewers` accounts per department."""
    seeded_vendors = seed_vendors(url, env, vendors)
    east = await permits_bench.seed(url, env)
    password_hash = PasswordHasher().hash(STAFF_PASSWORD)
    office_names = [f"load_office_{n}" for n in range(offices)]
    reviewer_names = {d: [f"load_{d}_{n}" for n in range(reviewers)] for d in permits_bench.DEPARTMENTS}
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
            office_ids = [uuid.uuid4() for _ in office_names]
            await connection.executemany(
                "INSERT INTO registry_account (id, username, password_hash, role, jurisdiction_code)"
                " VALUES ($1, $2, $3, 'street_office', $4)",
                [(i, name, password_hash, CODE) for i, name in zip(office_ids, office_names, strict=True)],
            )
            await connection.executemany(
                "INSERT INTO registry_account (id, username, password_hash, role, department_code)"
                " VALUES ($1, $2, $3, 'department', $4)",
                [(uuid.uuid4(), name, password_hash, d) for d, names in reviewer_names.items() for name in names],
            )
            places = await _seed_venues(connection, office_ids[0])
            await connection.execute("UPDATE venues_change_counter SET counter = counter + 1")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return City(
        vendors=seeded_vendors,
        offices=office_names,
        reviewers=reviewer_names,
        market_point=east.market_point,
        road_point=east.road_point,
        **places,
    )


async def _seed_venues(connection: asyncpg.Connection, office: uuid.UUID) -> dict[str, Any]:
    polygon, venue = venues_bench._polygon, venues_bench._venue
    dlon, dlat = venues_bench.DLON, venues_bench.DLAT
    corner_lon, corner_lat = venues_bench.CORNER_LON, venues_bench.CORNER_LAT
    # Road zones 100 × 6 m in rows in the square's north-east corner, as bench/venues.py lays them out.
    zones, road_zones = [], []
    for n in range(ROAD_ZONES):
        lon0 = corner_lon + (n % 3) * 105 * dlon
        lat0 = corner_lat + 5 * 62 * dlat + (n // 3) * 9 * dlat
        row = venue(
            office,
            f"夜市人行道 {n}",
            "road_zone",
            polygon(lon0, lat0, 100, 6),
            ["convenience_services", "daily_necessities"],
            sidewalk_width_m=6.0,
            joint_approval_road_document=f"东城路政许〔2026〕{n}号",
            joint_approval_police_document=f"东公交许〔2026〕{n}号",
            joint_approval_valid_to=dt.date(2030, 12, 31),
        )
        zones.append(row)
        road_zones.append((str(row[0]), lon0, lat0))
    # A community space of 60 × 60 m with its pitches (1 × 1.5 m, 4 m apart), south of the road zones.
    space = venue(
        office, "社区便民市集", "community_space", polygon(corner_lon, corner_lat, 60, 60), ["daily_necessities"]
    )
    zones.append(space)
    # Designated zones on a grid over the west half of the square, away from the corner.
    cell_lon = (venues_bench.CLEAR_LON - venues_bench.MIN_LON) / GRID
    cell_lat = (venues_bench.MAX_LAT - venues_bench.MIN_LAT) / GRID
    points = []
    for i in range(GRID):
        for j in range(GRID):
            lon0, lat0 = venues_bench.MIN_LON + i * cell_lon, venues_bench.MIN_LAT + j * cell_lat
            zones.append(
                venue(
                    office,
                    f"指定经营区 {i:02d}-{j:02d}",
                    "designated_zone",
                    polygon(lon0, lat0, 0.8 * cell_lon / dlon, 0.8 * cell_lat / dlat),
                    ["agricultural_products", "daily_necessities"],
                    designation_authority="北京市东城区人民政府",
                    designation_document_number=f"东政发〔2026〕{i * GRID + j}号",
                    designated_on=dt.date(2026, 3, 1),
                )
            )
            points.append((lon0 + 0.4 * cell_lon, lat0 + 0.4 * cell_lat))
    await venues_bench._insert_venues(connection, zones)
    pitches = [
        venues_bench._pitch_row(
            space[0],
            office,
            f"A-{n}",
            polygon(corner_lon + (2 + (n % 10) * 5) * dlon, corner_lat + (2 + (n // 10) * 6) * dlat, 1, 1.5),
        )
        for n in range(PITCHES)
    ]
    await connection.copy_records_to_table("venues_pitch", records=pitches, columns=venues_bench._PITCH_COLUMNS)
    return {"road_zones": road_zones, "map_venue": str(space[0]), "lookup_points": points}
