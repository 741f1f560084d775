"""The baselines: a bare Litestar JSON endpoint and a raw-asyncpg insert endpoint, served like flexreg is."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import JSONBody

from permits.api.exemption import ExemptionCheckOut
from permits.api.exemption_examples import examples as exemption_examples
from registry import claims
from registry.catalogue import activity_list_json
from venues.api.designated import examples as designated_examples


class ClaimLike(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    group: str
    evidence_document_ids: list[uuid.UUID]
    details: dict[str, Any]


class Created(msgspec.Struct):
    id: uuid.UUID
    status: str


@get("/bare", sync_to_thread=False)
def bare() -> dict[str, str]:
    return {"status": "ok"}


@get("/bare-catalogue", sync_to_thread=False)
def bare_catalogue() -> Response[bytes]:
    return Response(activity_list_json(), media_type="application/json")


@post("/raw-insert")
async def raw_insert(request: Request[Any, Any, Any], data: JSONBody[ClaimLike]) -> Created:
    pool: asyncpg.Pool = request.app.state.pool
    row_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO bench_raw_insert (id, key_group, details, submitted_at) VALUES ($1, $2, $3, $4)",
        row_id,
        data.group,
        msgspec.json.encode(data.details).decode(),
        dt.datetime.now(dt.UTC),
    )
    return Created(id=row_id, status="pending")


# A body the size of GET /designated-places' answer for one place (the bench's points each find one).
_DESIGNATED_BODY = msgspec.json.encode(designated_examples()[0])


@get("/bare-designated", sync_to_thread=False)
def bare_designated() -> Response[bytes]:
    return Response(_DESIGNATED_BODY, media_type="application/json")


class PitchLike(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label: str
    geometry: dict[str, Any]


class RoadLike(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    zone_id: uuid.UUID
    footprint: dict[str, Any]
    periods: list[dict[str, str]]
    activity_code: str


# The write ceilings for a pitch and a road request: the same body decoded and validated, one INSERT of it.


@post("/raw-pitch/{venue_id:uuid}")
async def raw_pitch(request: Request[Any, Any, Any], venue_id: uuid.UUID, data: JSONBody[PitchLike]) -> Created:
    pool: asyncpg.Pool = request.app.state.pool
    row_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO bench_raw_pitch (id, venue_id, label, geometry) VALUES ($1, $2, $3, $4)",
        row_id,
        venue_id,
        data.label,
        msgspec.json.encode(data.geometry).decode(),
    )
    return Created(id=row_id, status="open")


@post("/raw-road")
async def raw_road(request: Request[Any, Any, Any], data: JSONBody[RoadLike]) -> Created:
    pool: asyncpg.Pool = request.app.state.pool
    row_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO bench_raw_road (id, zone_id, activity_code, footprint, periods) VALUES ($1, $2, $3, $4, $5)",
        row_id,
        data.zone_id,
        data.activity_code,
        msgspec.json.encode(data.footprint).decode(),
        msgspec.json.encode(data.periods).decode(),
    )
    return Created(id=row_id, status="approved")


# The baseline runs the claim's very statement (registry.claims.SUBMIT_SQL) in a transaction, as the request's
# session does, with nothing of flexreg around it: no guard, no token, no session.


@post("/same-statements/{vendor_id:uuid}")
async def same_statements(request: Request[Any, Any, Any], vendor_id: uuid.UUID, data: JSONBody[ClaimLike]) -> Created:
    pool: asyncpg.Pool = request.app.state.pool
    claim_id = uuid.uuid4()
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            claims.SUBMIT_SQL,
            vendor_id,
            None,
            data.evidence_document_ids,
            uuid.UUID(request.headers["x-actor"]),
            claim_id,
            data.group,
            msgspec.json.encode(data.details).decode(),
            len(data.evidence_document_ids),
            dt.datetime.now(dt.UTC),
        )
    if row is None or row["submitted_at"] is None:
        raise RuntimeError("the baseline's claim was not inserted")
    return Created(id=claim_id, status=row["status"])


class CheckLike(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    activity_code: str
    location: dict[str, Any]
    periods: list[dict[str, str]]
    vendor_id: uuid.UUID | None = None


# The write ceiling for an exemption check: its body decoded and validated, one INSERT of a row as large as the
# stored decision (the OpenAPI example's: the same story, decided by the same rules), and an answer of its size.
_DECISION = next(e for e in exemption_examples() if isinstance(e, ExemptionCheckOut))
_DECISION_BODY = msgspec.json.encode(_DECISION)
_REASONS = msgspec.json.encode(_DECISION.reasons).decode()
_MATCHED = msgspec.json.encode(_DECISION.matched_place).decode()
_REQUIRED = msgspec.json.encode(_DECISION.required_permits).decode()
_VERSIONS = msgspec.json.encode(_DECISION.rule_versions).decode()
_REVISIONS = msgspec.json.encode(_DECISION.venue_revisions).decode()


@post("/raw-exemption-check", status_code=200)
async def raw_exemption_check(request: Request[Any, Any, Any], data: JSONBody[CheckLike]) -> Response[bytes]:
    pool: asyncpg.Pool = request.app.state.pool
    await pool.execute(
        "INSERT INTO bench_raw_exemption_check (id, activity_code, vendor_id, input, outcome, reasons,"
        " required_permits, matched_place, rule_version, rule_versions, venue_revisions, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        uuid.uuid4(),
        data.activity_code,
        data.vendor_id,
        msgspec.json.encode(data).decode(),
        _DECISION.outcome,
        _REASONS,
        _REQUIRED,
        _MATCHED,
        _DECISION.rule_version,
        _VERSIONS,
        _REVISIONS,
        dt.datetime.now(dt.UTC),
    )
    return Response(_DECISION_BODY, media_type="application/json")


@asynccontextmanager
async def pool(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Litestar:
    return Litestar(
        [bare, bare_catalogue, raw_insert, same_statements, bare_designated, raw_pitch, raw_road, raw_exemption_check],
        lifespan=[pool],
    )
