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

from registry import claims
from registry.catalogue import activity_list_json


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
        )
    if row is None or row["submitted_at"] is None:
        raise RuntimeError("the baseline's claim was not inserted")
    return Created(id=claim_id, status=row["status"])


@asynccontextmanager
async def pool(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Litestar:
    return Litestar([bare, bare_catalogue, raw_insert, same_statements], lifespan=[pool])
