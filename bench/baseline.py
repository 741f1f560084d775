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


@asynccontextmanager
async def pool(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


def create_app() -> Litestar:
    return Litestar([bare, bare_catalogue, raw_insert], lifespan=[pool])
