"""Only one decision per claim, even when twenty staff members decide at the same moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from core.auth import Principal
from core.conditional import Precondition
from core.db import create_sessionmaker, sqlalchemy_url, transaction
from core.errors import InvalidInput, PreconditionFailed
from core.settings import Settings
from registry import claims as service
from registry.errors import ClaimPending
from registry.models import (
    Account,
    Document,
    Jurisdiction,
    KeyGroupClaim,
    KeyGroupClaimEvidence,
    KeyGroupDecision,
    PersonalDataAccess,
    Vendor,
)
from tests.registry.builders import make_account, make_claim, make_document, make_jurisdiction, make_vendor

pytestmark = pytest.mark.concurrency
DECIDERS = 20


@pytest.fixture
async def pooled_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own with a real pool: the deciders must hold separate connections at once."""
    engine = create_async_engine(sqlalchemy_url(database_url), pool_size=DECIDERS, max_overflow=0)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _setup(sessionmaker: async_sessionmaker[Any], settings: Settings) -> dict[str, Any]:
    async with transaction(sessionmaker) as session:
        jurisdiction = await make_jurisdiction(session)
        vendor = await make_vendor(session, settings, residence_jurisdiction_code=jurisdiction.code)
        staff = [
            await make_account(session, "street_office", jurisdiction_code=jurisdiction.code) for _ in range(DECIDERS)
        ]
        claim = await make_claim(session, vendor)
    return {"jurisdiction": jurisdiction, "vendor": vendor, "staff": staff, "claim": claim}


async def _cleanup(sessionmaker: async_sessionmaker[Any], made: dict[str, Any]) -> None:
    async with transaction(sessionmaker) as session:
        vendor = made["vendor"]
        claim_ids = select(KeyGroupClaim.id).where(KeyGroupClaim.vendor_id == vendor.id)
        # The access log refuses DELETE (migration 0013); this test's rows are the chain's tail, so cutting them
        # as the table owner leaves the chain whole for the tests after it.
        await session.execute(text("ALTER TABLE registry_personal_data_access DISABLE TRIGGER USER"))
        await session.execute(delete(PersonalDataAccess).where(PersonalDataAccess.vendor_id == vendor.id))
        await session.execute(text("ALTER TABLE registry_personal_data_access ENABLE TRIGGER USER"))
        await session.execute(delete(KeyGroupDecision).where(KeyGroupDecision.claim_id.in_(claim_ids)))
        await session.execute(delete(KeyGroupClaimEvidence).where(KeyGroupClaimEvidence.claim_id.in_(claim_ids)))
        await session.execute(delete(KeyGroupClaim).where(KeyGroupClaim.vendor_id == vendor.id))
        await session.execute(delete(Document).where(Document.id.in_(made.get("documents", []))))
        await session.execute(delete(Vendor).where(Vendor.id == vendor.id))
        account_ids = [vendor.account_id, *(account.id for account in made["staff"])]
        await session.execute(delete(Account).where(Account.id.in_(account_ids)))
        await session.execute(delete(Jurisdiction).where(Jurisdiction.code == made["jurisdiction"].code))


async def _race(
    sessionmaker: async_sessionmaker[Any], made: dict[str, Any], if_match: str | None, today: dt.date
) -> list[Any]:
    start = asyncio.Event()

    async def decide(account: Account) -> Any:
        principal = Principal(account_id=account.id, role="street_office", jurisdiction_code=account.jurisdiction_code)
        await start.wait()
        async with transaction(sessionmaker) as session:
            return await service.decide_claim(
                session,
                principal,
                made["claim"].id,
                decision="verified",
                valid_until=today + dt.timedelta(days=365),
                reason=None,
                today=today,
                now=dt.datetime.combine(today, dt.time(10), tzinfo=dt.UTC),
                precondition=Precondition(if_match),
                request_path=f"/api/v1/key-group-claims/{made['claim'].id}/decision",
            )

    tasks = [asyncio.create_task(decide(account)) for account in made["staff"]]
    await asyncio.sleep(0)
    start.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_concurrent_decisions_exactly_one_wins(pooled_engine: AsyncEngine, settings: Settings) -> None:
    """Every officer names the same ETag: one decision lands, every other officer is told the claim changed
    (412, RELIABILITY T-E6), and the claim holds exactly one decision row."""
    loser = PreconditionFailed
    sessionmaker = create_sessionmaker(pooled_engine)
    made = await _setup(sessionmaker, settings)
    try:
        results = await _race(sessionmaker, made, '"1"', settings.today())
        winners = [result for result in results if isinstance(result, service.ClaimRecord)]
        losers = [result for result in results if isinstance(result, loser)]
        unexpected = [result for result in results if not isinstance(result, (service.ClaimRecord, loser))]
        assert unexpected == []
        assert (len(winners), len(losers)) == (1, DECIDERS - 1)
        async with sessionmaker() as session:
            claim = await session.get(KeyGroupClaim, made["claim"].id)
            assert claim is not None
            assert (claim.status, claim.version) == ("verified", 2)
            decisions = await session.scalar(select(func.count()).where(KeyGroupDecision.claim_id == made["claim"].id))
            assert decisions == 1
            decided_by = await session.scalar(
                select(KeyGroupDecision.decided_by).where(KeyGroupDecision.claim_id == made["claim"].id)
            )
            assert decided_by in {account.id for account in made["staff"]}
    finally:
        await _cleanup(sessionmaker, made)


async def test_concurrent_submissions_one_pending_claim_wins_and_refusals_leave_nothing(
    pooled_engine: AsyncEngine, settings: Settings
) -> None:
    """Outside the tests' outer transaction the claim statement runs as one atomic statement of its own.

    Twenty identical submissions at once: the partial unique index lets one pending claim in; the others are
    409 `claim_pending` and leave no evidence rows behind.
    """
    sessionmaker = create_sessionmaker(pooled_engine)
    made = await _setup(sessionmaker, settings)
    vendor = made["vendor"]
    principal = Principal(account_id=vendor.account_id, role="vendor", vendor_id=vendor.id)
    async with transaction(sessionmaker) as session:
        document = await make_document(session, owner_account_id=vendor.account_id)
        foreign = await make_document(session, owner_account_id=made["staff"][0].id)
    made["documents"] = [document.id, foreign.id]
    today = settings.today()

    async def submit(evidence: list[uuid.UUID]) -> Any:
        async with transaction(sessionmaker) as session:
            return await service.submit_claim(
                session,
                principal,
                vendor_id=vendor.id,
                group="laid_off_unemployed",
                details={"registered_unemployed_since": "2024-01-15"},
                evidence_document_ids=evidence,
                today=today,
                now=settings.now(),
            )

    try:
        results = await asyncio.gather(*[submit([document.id]) for _ in range(DECIDERS)], return_exceptions=True)
        winners = [result for result in results if isinstance(result, service.ClaimRecord)]
        losers = [result for result in results if isinstance(result, ClaimPending)]
        assert (len(winners), len(losers)) == (1, DECIDERS - 1), results
        refused = await asyncio.gather(submit([document.id, foreign.id]), return_exceptions=True)
        assert isinstance(refused[0], InvalidInput)
        async with sessionmaker() as session:
            claims = (await session.scalars(select(KeyGroupClaim.id).where(KeyGroupClaim.vendor_id == vendor.id))).all()
            assert len(claims) == 2  # the winner and the (other group's) pending claim made in setup
            evidence = await session.scalar(
                select(func.count()).where(KeyGroupClaimEvidence.claim_id.in_(list(claims)))
            )
            assert evidence == 1
    finally:
        await _cleanup(sessionmaker, made)
