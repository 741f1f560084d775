"""The retention job (RELIABILITY.md T-P8): what is past its period goes, what is cited or recent stays, the
access log's chain verifies afterwards, and each run records its counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import ColumnElement, delete, func, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.auth import Principal
from core.chain_queue import QueuedRow, flush_chains
from core.db import create_sessionmaker, transaction
from core.idempotency_keys import IdempotencyKey
from core.settings import RetentionSettings, Settings
from flexreg import jobs, retention
from flexreg.retention import RetentionCounts, apply_retention, document_citations, run_retention
from permits.models import ApplicationDocument
from registry.access import record_personal_data_access
from registry.access_log import verify_access_log
from registry.models import (
    Account,
    AccountEvent,
    AuthSession,
    Document,
    DocumentContent,
    Jurisdiction,
    KeyGroupClaim,
    KeyGroupClaimEvidence,
    KeyGroupDecision,
    LoginDelay,
    LoginFailure,
    PersonalDataAccess,
    RefreshToken,
    RetentionRun,
    Vendor,
)
from tests.clock import START
from tests.registry.builders import make_account, make_claim, make_document, make_jurisdiction, make_vendor

NOW = START
_KEYS = {
    "FLEXREG_SECRET_KEY": "00" * 32,
    "FLEXREG_DATA_KEY": "11" * 32,
    "FLEXREG_VAR_DIR": "/tmp/flexreg-retention-test",
}
PERIODS = RetentionSettings()
DAYS = dt.timedelta(days=1)


class World:
    def __init__(self) -> None:
        self.claims: dict[str, uuid.UUID] = {}
        self.documents: dict[str, uuid.UUID] = {}
        self.access: dict[str, int] = {}
        self.sessions: dict[str, uuid.UUID] = {}
        self.tokens: dict[str, bytes] = {}
        self.account_event = 0


async def _document(session: AsyncSession, vendor: Vendor, age: dt.timedelta) -> uuid.UUID:
    document = await make_document(session, owner_account_id=vendor.account_id, created_at=NOW - age)
    session.add(DocumentContent(document_id=document.id, content=b"%PDF-1.7 scan"))
    await session.flush()
    return document.id


async def _sign_in(
    session: AsyncSession,
    made: World,
    account: uuid.UUID,
    name: str,
    *,
    kind: str = "api",
    opened_ago: dt.timedelta,
    revoked_ago: dt.timedelta | None = None,
    tokens_expire_in: tuple[dt.timedelta, ...] = (),
) -> None:
    """A sign-in, and its refresh tokens expiring this long from NOW (negative: already expired)."""
    signed_in = AuthSession(
        id=uuid.uuid4(),
        account_id=account,
        kind=kind,
        created_at=NOW - opened_ago,
        revoked_at=None if revoked_ago is None else NOW - revoked_ago,
        revoked_reason=None if revoked_ago is None else "signed_out",
    )
    session.add(signed_in)
    await session.flush()
    made.sessions[name] = signed_in.id
    for n, expires_in in enumerate(tokens_expire_in):
        digest = uuid.uuid4().bytes
        session.add(
            RefreshToken(
                token_hash=digest, session_id=signed_in.id, created_at=NOW - opened_ago, expires_at=NOW + expires_in
            )
        )
        made.tokens[f"{name}#{n}"] = digest
    await session.flush()


async def _claim(
    session: AsyncSession, vendor: Vendor, status: str, decided_ago: dt.timedelta, document: uuid.UUID, group: str
) -> uuid.UUID:
    valid_until = dt.date(2027, 1, 1) if status == "verified" else None
    claim = await make_claim(session, vendor, status=status, group=group, valid_until=valid_until)
    session.add(KeyGroupClaimEvidence(claim_id=claim.id, document_id=document))
    await session.execute(
        update(KeyGroupDecision).where(KeyGroupDecision.claim_id == claim.id).values(decided_at=NOW - decided_ago)
    )
    await session.flush()
    return claim.id


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    made = World()
    home = await make_jurisdiction(session)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code)
    docs = made.documents
    docs["old_rejected_evidence"] = await _document(session, vendor, 210 * DAYS)
    docs["recent_rejected_evidence"] = await _document(session, vendor, 220 * DAYS)
    docs["verified_evidence"] = await _document(session, vendor, 500 * DAYS)
    docs["old_unused"] = await _document(session, vendor, 31 * DAYS)
    docs["recent_unused"] = await _document(session, vendor, 5 * DAYS)
    made.claims["old_rejected"] = await _claim(
        session, vendor, "rejected", 201 * DAYS, docs["old_rejected_evidence"], "college_graduate"
    )
    made.claims["recent_rejected"] = await _claim(
        session, vendor, "rejected", 10 * DAYS, docs["recent_rejected_evidence"], "migrant_worker"
    )
    made.claims["old_verified"] = await _claim(
        session, vendor, "verified", 400 * DAYS, docs["verified_evidence"], "laid_off_unemployed"
    )
    for key, age in (("old", dt.timedelta(hours=25)), ("recent", dt.timedelta(hours=1))):
        session.add(
            IdempotencyKey(
                principal=f"retention-test-{uuid.uuid4().hex[:8]}",
                key=key,
                fingerprint="0" * 64,
                state="completed",
                response_status=201,
                response_body=b"{}",
                created_at=NOW - age,
                locked_until=NOW - age,
            )
        )
    for name, age in (("old_user", 31 * DAYS), ("recent_user", DAYS)):
        session.add(LoginFailure(username_key=f"{name}_{uuid.uuid4().hex[:6]}", window_start=NOW - age, failures=3))
        session.add(
            LoginDelay(
                username_key=f"{name}_{uuid.uuid4().hex[:6]}", client_key="k", failures=4, last_failed_at=NOW - age
            )
        )
    staff = await make_account(session, "street_office", jurisdiction_code=home.code)
    principal = Principal(account_id=staff.id, role="street_office", jurisdiction_code=home.code)
    queued: dict[str, QueuedRow] = {}
    for name, age in (("old", 1100 * DAYS), ("recent", 10 * DAYS)):
        [queued[name]] = await record_personal_data_access(
            session,
            principal=principal,
            vendor_ids=[vendor.id],
            fields=("name",),
            purpose=f"{name} case, caller 13800138000",
            request_path=f"/api/v1/vendors/{vendor.id}",
            at=NOW - age,
        )
    await flush_chains(session)
    made.access = {name: row.seq for name, row in queued.items()}
    # Sign-ins of the vendor: what ended before the 180 days goes with its refresh tokens, the rest stays.
    me = vendor.account_id
    await _sign_in(
        session,
        made,
        me,
        "signed_out_long_ago",
        opened_ago=300 * DAYS,
        revoked_ago=181 * DAYS,
        tokens_expire_in=(-270 * DAYS, 10 * DAYS),
    )
    await _sign_in(
        session,
        made,
        me,
        "signed_out_recently",
        opened_ago=300 * DAYS,
        revoked_ago=10 * DAYS,
        tokens_expire_in=(20 * DAYS,),
    )
    # Revoked lately (signing out everywhere revokes every sign-in), but its tokens ended long before: it goes.
    await _sign_in(
        session,
        made,
        me,
        "expired_then_revoked",
        opened_ago=300 * DAYS,
        revoked_ago=10 * DAYS,
        tokens_expire_in=(-270 * DAYS,),
    )
    await _sign_in(
        session, made, me, "expired_long_ago", opened_ago=400 * DAYS, tokens_expire_in=(-200 * DAYS, -181 * DAYS)
    )
    await _sign_in(
        session, made, me, "expired_recently", opened_ago=400 * DAYS, tokens_expire_in=(-200 * DAYS, -179 * DAYS)
    )
    await _sign_in(session, made, me, "live", opened_ago=400 * DAYS, tokens_expire_in=(-200 * DAYS, 10 * DAYS))
    await _sign_in(session, made, staff.id, "console_long_ago", kind="console", opened_ago=181 * DAYS)
    await _sign_in(session, made, staff.id, "console_recently", kind="console", opened_ago=DAYS)
    event = AccountEvent(account_id=me, event="deactivated", actor_account_id=staff.id, at=NOW - 400 * DAYS)
    session.add(event)
    await session.flush()
    made.account_event = event.id
    return made


async def _exists(session: AsyncSession, model: type, ident: object) -> bool:
    return await session.get(model, ident, populate_existing=True) is not None


async def test_what_is_past_its_period_goes_and_the_rest_stays(session: AsyncSession, world: World) -> None:
    before = await verify_access_log(session)
    assert before.intact, before.summary()

    counts = await apply_retention(session, PERIODS, now=NOW)

    assert counts == RetentionCounts(
        rejected_claims=1,
        documents=2,
        idempotency_keys=1,
        login_failures=2,
        access_purposes_cleared=1,
        sessions=4,
        refresh_tokens=7,
    )
    assert not await _exists(session, KeyGroupClaim, world.claims["old_rejected"])
    assert (
        await session.scalar(select(func.count()).where(KeyGroupDecision.claim_id == world.claims["old_rejected"])) == 0
    )
    assert await _exists(session, KeyGroupClaim, world.claims["recent_rejected"])
    assert await _exists(session, KeyGroupClaim, world.claims["old_verified"])
    gone = {"old_rejected_evidence", "old_unused"}
    for name, ident in world.documents.items():
        assert await _exists(session, Document, ident) == (name not in gone), name
        assert await _exists(session, DocumentContent, ident) == (name not in gone), name
    keys = set(
        await session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.principal.like("retention-test-%")))
    )
    assert keys == {"recent"}
    users = set(await session.scalars(select(LoginFailure.username_key)))
    assert any(u.startswith("recent_user") for u in users)
    assert not any(u.startswith("old_user") for u in users)
    query = select(PersonalDataAccess.seq, PersonalDataAccess.purpose).where(
        PersonalDataAccess.seq.in_(world.access.values())
    )
    purposes = {seq: purpose for seq, purpose in (await session.execute(query)).all()}
    assert purposes == {world.access["old"]: None, world.access["recent"]: "recent case, caller 13800138000"}

    ended = {"signed_out_long_ago", "expired_then_revoked", "expired_long_ago", "console_long_ago"}
    for name, ident in world.sessions.items():
        assert await _exists(session, AuthSession, ident) == (name not in ended), name
    kept_tokens = {"signed_out_recently#0", "expired_recently#1", "live#1"}
    for name, digest in world.tokens.items():
        assert await _exists(session, RefreshToken, digest) == (name in kept_tokens), name
    assert await _exists(session, AccountEvent, world.account_event)  # the account's audit trail stays

    # T-P8: the audit trail keeps its rows and its chain; only the free text went.
    after = await verify_access_log(session)
    assert after.intact, after.summary()
    assert (after.rows, after.head_hash) == (before.rows, before.head_hash)

    again = await apply_retention(session, PERIODS, now=NOW)
    assert again == RetentionCounts(
        rejected_claims=0,
        documents=0,
        idempotency_keys=0,
        login_failures=0,
        access_purposes_cleared=0,
        sessions=0,
        refresh_tokens=0,
    )
    runs = (
        await session.scalars(select(RetentionRun).where(RetentionRun.ran_at == NOW).order_by(RetentionRun.id))
    ).all()
    assert [run.counts for run in runs][-2:] == [
        {
            "rejected_claims": 1,
            "documents": 2,
            "idempotency_keys": 1,
            "login_failures": 2,
            "access_purposes_cleared": 1,
            "sessions": 4,
            "refresh_tokens": 7,
        },
        {
            "rejected_claims": 0,
            "documents": 0,
            "idempotency_keys": 0,
            "login_failures": 0,
            "access_purposes_cleared": 0,
            "sessions": 0,
            "refresh_tokens": 0,
        },
    ]


async def test_periods_are_settings(session: AsyncSession, world: World) -> None:
    """Longer periods keep everything the defaults would purge (the idempotency keys' 24 hours are the API's)."""
    long = RetentionSettings(
        rejected_claim_days=365,
        unused_document_days=60,
        access_purpose_days=2000,
        login_failure_days=60,
        session_days=400,
    )
    counts = await apply_retention(session, long, now=NOW)
    assert counts == RetentionCounts(
        rejected_claims=0,
        documents=0,
        idempotency_keys=1,
        login_failures=0,
        access_purposes_cleared=0,
        sessions=0,
        refresh_tokens=0,
    )
    assert await _exists(session, KeyGroupClaim, world.claims["old_rejected"])


async def test_the_job_runs_in_its_own_transaction_and_logs_counts_only(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await session.commit()  # the world, visible to the job's own session (a savepoint on the test's connection)
    with caplog.at_level(logging.INFO, logger="flexreg.retention"):
        counts = await run_retention(sessionmaker, NOW, periods=PERIODS)
    assert counts.rejected_claims == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "flexreg.retention"]
    assert line.startswith("retention: rejected_claims 1, documents 2,")
    assert "13800138000" not in line


def test_the_job_is_registered_daily() -> None:
    [job] = [job for job in jobs.PERIODIC_JOBS if job.name == "apply_retention"]
    assert job.run is jobs.apply_retention
    assert job.cron == "37 19 * * *"


def test_every_table_citing_a_document_keeps_it() -> None:
    citing = {(column.table.name, column.name) for column in document_citations()}
    assert (ApplicationDocument.__table__.name, "document_id") in citing
    assert (KeyGroupClaimEvidence.__table__.name, "document_id") in citing
    assert ("registry_document_content", "document_id") not in citing


def test_retention_periods_come_from_the_environment() -> None:
    env = {"FLEXREG_VAR_DIR": "/tmp/flexreg-retention-test", "FLEXREG_RETAIN_REJECTED_CLAIMS_DAYS": "90"}
    settings = Settings.from_env({**env, "FLEXREG_SECRET_KEY": "00" * 32, "FLEXREG_DATA_KEY": "11" * 32})
    assert settings.retention == RetentionSettings(rejected_claim_days=90)
    sessions = Settings.from_env(
        {**env, "FLEXREG_SECRET_KEY": "00", "FLEXREG_DATA_KEY": "11", "FLEXREG_RETAIN_SESSIONS_DAYS": "365"}
    )
    assert sessions.retention.session_days == 365
    assert RetentionSettings().session_days == 180
    with pytest.raises(ValueError, match="FLEXREG_RETAIN_LOGIN_FAILURES_DAYS"):
        Settings.from_env(
            {**env, "FLEXREG_SECRET_KEY": "00", "FLEXREG_DATA_KEY": "11", "FLEXREG_RETAIN_LOGIN_FAILURES_DAYS": "0"}
        )


async def test_the_candidates_are_asked_again_once_locked(
    session: AsyncSession, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A citation that commits after the candidates' snapshot was taken, and before their lock, is not seen by
    that statement: the first "not cited" condition is made to pass everything, as such a snapshot would."""
    real = retention._uncited
    calls = 0

    def stale_first(*args: Any) -> ColumnElement[bool]:
        nonlocal calls
        calls += 1
        return true() if calls == 1 else real(*args)

    monkeypatch.setattr(retention, "_uncited", stale_first)
    counts = await apply_retention(session, PERIODS, now=NOW)
    assert calls == 2
    assert counts.documents == 2
    assert await _exists(session, Document, world.documents["verified_evidence"])


async def _until_done_or_waiting(engine: AsyncEngine, task: asyncio.Task[RetentionCounts], pid: int) -> None:
    """Return once the run has finished or its backend waits for a lock."""
    async with engine.connect() as watcher:
        while not task.done():
            waiting = await watcher.scalar(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
            await watcher.rollback()  # a fresh snapshot of pg_stat_activity next time
            if waiting:
                return
            await asyncio.sleep(0.01)


@pytest.mark.concurrency
async def test_a_document_cited_while_the_run_goes_on_stays_and_the_run_completes(
    engine: AsyncEngine, settings: Settings
) -> None:
    """Two sessions on connections of their own: a claim citing an old unused document is being filed when
    the run starts. The citation wins (its document stays), and the run purges the rest instead of rolling back
    on the citation's foreign key."""
    sessionmaker = create_sessionmaker(engine)  # the suite's NullPool engine: each session its own connection
    async with transaction(sessionmaker) as setup:
        home = await make_jurisdiction(setup)
        vendor = await make_vendor(setup, settings, residence_jurisdiction_code=home.code)
        cited = await _document(setup, vendor, 31 * DAYS)
        unused = await _document(setup, vendor, 31 * DAYS)
        claim = await make_claim(setup, vendor)
    try:
        async with sessionmaker() as citer, sessionmaker() as run:
            citer.add(KeyGroupClaimEvidence(claim_id=claim.id, document_id=cited))
            await citer.flush()  # the evidence row's foreign key check holds the document's key-share lock
            pid = int(await run.scalar(text("SELECT pg_backend_pid()")) or 0)
            retention = asyncio.create_task(apply_retention(run, PERIODS, now=NOW))
            # The run either finishes, or waits on the citation's lock (as it used to, then failing on the key).
            await _until_done_or_waiting(engine, retention, pid)
            await citer.commit()
            counts = await retention
            await run.commit()
        assert counts.documents >= 1
        async with sessionmaker() as check:
            assert await _exists(check, Document, cited)
            assert not await _exists(check, Document, unused)
    finally:
        async with transaction(sessionmaker) as cleanup:
            await cleanup.execute(delete(KeyGroupClaimEvidence).where(KeyGroupClaimEvidence.claim_id == claim.id))
            await cleanup.execute(delete(KeyGroupClaim).where(KeyGroupClaim.id == claim.id))
            for document in (cited, unused):
                await cleanup.execute(delete(DocumentContent).where(DocumentContent.document_id == document))
                await cleanup.execute(delete(Document).where(Document.id == document))
            account = vendor.account_id
            await cleanup.execute(delete(Vendor).where(Vendor.id == vendor.id))
            await cleanup.execute(delete(Account).where(Account.id == account))
            await cleanup.execute(delete(Jurisdiction).where(Jurisdiction.code == home.code))
