"""The access log's anchors (T-L5 for the log): one signed head per city day, published to anyone at
GET /access-log-anchors, and the verifier catching against them a cut tail, a rewrite and a forged signature."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import msgspec
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import chain_anchors
from core.chain_anchors import Anchor
from core.hash_chain import chain_hash
from core.pagination import Page
from core.settings import Settings
from flexreg import jobs
from permits import anchors as history_anchors
from registry import access_log_anchors
from registry.access_log import ANCHOR_DOMAIN, stored_row, verify_access_log
from registry.models import PersonalDataAccess
from tests.clock import START
from tests.permits.history_builders import LocalSigner, tamper
from tests.problems import assert_problem
from tests.registry.test_access_log import log_reads

PATH = "/api/v1/access-log-anchors"
TABLE = "registry_personal_data_access"
CITY = "Asia/Shanghai"


async def _anchor(session: AsyncSession, signer: LocalSigner, day: int) -> Anchor:
    published = await access_log_anchors.publish_anchor(session, signer, now=START.replace(day=day), timezone=CITY)
    assert published is not None
    return published


async def test_one_anchor_per_city_day_signed_for_the_log_only(session: AsyncSession, settings: Settings) -> None:
    signer = LocalSigner()
    assert await access_log_anchors.publish_anchor(session, signer, now=START, timezone=CITY) is None  # empty
    seqs = await log_reads(session, settings, 2)
    today = await _anchor(session, signer, 15)
    assert (today.day, today.seq) == (dt.date(2026, 6, 15), seqs[-1])
    await log_reads(session, settings, 1)
    assert await access_log_anchors.publish_anchor(session, signer, now=START, timezone=CITY) is None
    assert chain_anchors.signature_holds(ANCHOR_DOMAIN, today, signer.public_key)
    # Signed over the log's own domain: the same head never passes for a history anchor, nor the reverse.
    assert not history_anchors.signature_holds(today, signer.public_key)
    assert not chain_anchors.signature_holds(ANCHOR_DOMAIN, today, LocalSigner().public_key)


async def test_a_cut_tail_is_caught_by_the_anchor(session: AsyncSession, settings: Settings) -> None:
    signer = LocalSigner()
    seqs = await log_reads(session, settings, 6)
    outside = [await _anchor(session, signer, 15)]
    cut_from = seqs[3]
    await tamper(session, f"DELETE FROM {TABLE} WHERE seq >= :k", table=TABLE, k=cut_from)
    await tamper(session, "DELETE FROM registry_access_log_anchor", table="registry_access_log_anchor")
    assert (await verify_access_log(session)).intact  # the known limit: a log cut at its end still chains
    verdict = await verify_access_log(session, anchors=outside)
    assert verdict.finding is not None
    assert (verdict.finding.seq, verdict.finding.problem) == (cut_from, "truncated")
    assert f"ends at row {cut_from - 1}" in verdict.finding.detail
    assert f"names row {seqs[-1]}" in verdict.finding.detail


async def test_a_recomputed_log_disagrees_with_its_anchor(session: AsyncSession, settings: Settings) -> None:
    """A superuser edits a row and recomputes every hash after it: the chain holds again, the anchor does not."""
    signer = LocalSigner()
    seqs = await log_reads(session, settings, 4)
    anchor = await _anchor(session, signer, 15)
    edited = seqs[1]
    await tamper(session, f"UPDATE {TABLE} SET fields = '{{phone}}' WHERE seq = :k", table=TABLE, k=edited)
    columns = PersonalDataAccess.__table__.c
    for seq in range(edited, seqs[-1] + 1):
        previous = (await session.execute(select(columns.row_hash).where(columns.seq == seq - 1))).one()
        row = (await session.execute(select(*columns).where(columns.seq == seq))).one()
        new_hash = chain_hash(previous.row_hash, stored_row(row))
        await tamper(
            session,
            f"UPDATE {TABLE} SET prev_hash = :prev, row_hash = :hash WHERE seq = :seq",
            table=TABLE,
            prev=previous.row_hash,
            hash=new_hash,
            seq=seq,
        )
    assert (await verify_access_log(session)).intact
    verdict = await verify_access_log(session, anchors=[anchor])
    assert verdict.finding is not None
    assert verdict.finding.problem == "anchor_mismatch"
    assert f"at or before row {seqs[-1]}" in verdict.finding.detail


async def test_signatures_are_checked_when_keys_are_given(session: AsyncSession, settings: Settings) -> None:
    signer = LocalSigner()
    await log_reads(session, settings, 2)
    anchor = await _anchor(session, signer, 15)
    keys = {signer.kid: signer.public_key}
    verdict = await verify_access_log(session, anchors=[anchor], public_keys=keys)
    assert verdict.intact, verdict.summary()
    assert verdict.anchors_checked == 1
    assert "1 anchor agrees" in verdict.summary()
    forged = msgspec.structs.replace(anchor, signature=chain_anchors.b64url(LocalSigner().sign(b"else")))
    verdict = await verify_access_log(session, anchors=[forged], public_keys=keys)
    assert verdict.finding is not None
    assert verdict.finding.problem == "bad_signature"


@pytest.mark.parametrize("statement", ["UPDATE {t} SET seq = seq + 1", "DELETE FROM {t}", "TRUNCATE {t}"])
async def test_anchors_are_append_only(session: AsyncSession, settings: Settings, statement: str) -> None:
    await log_reads(session, settings, 1)
    await _anchor(session, LocalSigner(), 15)
    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(statement.format(t="registry_access_log_anchor")))


async def test_anchors_are_published_to_anyone(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    signer = LocalSigner()
    async with sessionmaker() as session:
        for day in (13, 14, 15):
            await log_reads(session, settings, 1)
            await _anchor(session, signer, day)
        await session.commit()
    first = await client.get(PATH, params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [item["day"] for item in body["items"]] == ["2026-06-13", "2026-06-14"]
    rest = await client.get(PATH, params={"limit": 2, "cursor": body["next_cursor"]})
    assert [item["day"] for item in rest.json()["items"]] == ["2026-06-15"]
    page = msgspec.json.decode(first.content, type=Page[Anchor])
    assert all(chain_anchors.signature_holds(ANCHOR_DOMAIN, a, signer.public_key) for a in page.items)
    async with sessionmaker() as session:
        verdict = await verify_access_log(session, anchors=page.items, public_keys={signer.kid: signer.public_key})
    assert verdict.intact, verdict.summary()
    assert verdict.anchors_checked == 2


async def test_an_empty_list_and_a_forged_cursor(client: httpx.AsyncClient) -> None:
    assert (await client.get(PATH)).json() == {"items": [], "next_cursor": None}
    assert_problem(await client.get(PATH, params={"cursor": "A" * 32}), 422, "invalid_cursor")
    assert_problem(await client.get(PATH, params={"limit": 0}), 400, "invalid_parameter")


async def test_the_job_signs_the_logs_head_with_the_published_key(
    client: httpx.AsyncClient,
    settings: Settings,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(jobs, "_settings", lambda: settings)
    await log_reads(session, settings, 3)
    await jobs.publish_access_log_anchor(sessionmaker, START)
    await jobs.publish_access_log_anchor(sessionmaker, START + dt.timedelta(minutes=3))  # one per day
    published = await access_log_anchors.all_anchors(session)
    assert len(published) == 1
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes((await client.get("/api/v1/permit-signing-keys")).content)
    keys = chain_anchors.load_public_keys(jwks)
    verdict = await verify_access_log(session, anchors=published, public_keys=keys)
    assert verdict.intact, verdict.summary()
    assert verdict.anchors_checked == 1


def test_the_signed_bytes_of_both_chains_are_pinned() -> None:
    """What outside verifiers re-create byte for byte (docs/retention.md, permits.anchors): never to change."""
    head = bytes(range(32))
    body = b'{"day":"2026-06-15","row_hash":"' + head.hex().encode() + b'","seq":7}'
    assert history_anchors.anchor_message(day=dt.date(2026, 6, 15), seq=7, row_hash=head) == (
        b"flexreg history anchor v1\n" + body
    )
    assert chain_anchors.anchor_message(ANCHOR_DOMAIN, day=dt.date(2026, 6, 15), seq=7, row_hash=head) == (
        b"flexreg access log anchor v1\n" + body
    )


async def test_a_history_anchor_does_not_pass_for_the_logs(session: AsyncSession, settings: Settings) -> None:
    """The same key signs both chains: an anchor of the history, same seq and hash, fails the log's check."""
    signer = LocalSigner()
    seqs = await log_reads(session, settings, 2)
    head = await access_log_anchors.chain_head(session)
    assert head is not None
    signature = signer.sign(history_anchors.anchor_message(day=START.date(), seq=head[0], row_hash=head[1]))
    borrowed = Anchor(
        day=START.date(),
        seq=seqs[-1],
        row_hash=head[1].hex(),
        signature=chain_anchors.b64url(signature),
        kid=signer.kid,
        created_at=START,
    )
    verdict = await verify_access_log(session, anchors=[borrowed], public_keys={signer.kid: signer.public_key})
    assert verdict.finding is not None
    assert verdict.finding.problem == "bad_signature"
    assert (await verify_access_log(session, anchors=[borrowed])).intact  # without keys, the head itself agrees


def test_the_anchor_job_runs_daily() -> None:
    crons = {job.name: job.cron for job in jobs.PERIODIC_JOBS}
    assert crons["publish_access_log_anchor"] == "56 15 * * *"
