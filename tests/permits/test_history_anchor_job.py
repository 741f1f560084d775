"""The daily anchor job signs the history's head with the permits' signing key: anyone holding the published
JWKS (GET /permit-signing-keys) checks it, and `verify-audit --keys` with that JWKS accepts it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import chain_anchors
from core.settings import Settings
from flexreg import jobs
from permits import anchors, history_verify
from tests.clock import city_time
from tests.permits.builders import make_permit_city, road_application


async def test_the_anchor_job_signs_the_head_with_the_published_key(
    client: httpx.AsyncClient,
    settings: Settings,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(jobs, "_settings", lambda: settings)
    city = await make_permit_city(session, settings)
    await road_application(client, city)
    await jobs.publish_history_anchor(sessionmaker, city_time(2026, 6, 15, 23, 55))
    await jobs.publish_history_anchor(sessionmaker, city_time(2026, 6, 15, 23, 58))  # one per day
    published = await anchors.all_anchors(session)
    assert len(published) == 1
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes((await client.get("/api/v1/permit-signing-keys")).content)
    keys = chain_anchors.load_public_keys(jwks)
    assert anchors.signature_holds(published[0], keys[published[0].kid])
    verdict = await history_verify.verify_history(session, anchors=published, public_keys=keys)
    assert verdict.intact, verdict.summary()
