"""The retention job: personal data whose purpose has ended is deleted, or cleared where an audit trail must stay
(PIPL Art. 19 and 47; RELIABILITY.md T-P8). Periods are settings (core.settings.RetentionSettings, FLEXREG_RETAIN_*;
docs/retention.md lists them and why).

Per run, in one transaction, at the instant `now` it is given:

- rejected key-group claims decided before their period: the claim, its decision and its evidence links
  (the evidence documents then count as unused);
- documents no claim, application or supplement answer cites, uploaded before their period: metadata and bytes.
  What cites a document is read from the schema (every foreign key to registry_document, whichever domain
  added it), so a table that starts citing documents protects them without a change here. A document being
  cited while the run goes on is skipped (row locks, `_unused_documents`), not a reason to roll the run back;
- idempotency keys past their 24 hours (core.idempotency_keys.KEY_TTL): they hold whole responses;
- failed sign-in counts (keyed by username) past their period;
- sign-ins (registry_auth_session) ended before their period, with their refresh tokens, and refresh tokens
  expired before it: the account events (who deactivated, reactivated or changed a password, and when) stay,
  as they name accounts, not sign-ins;
- the free-text purposes of staff reads in the access log past their period: cleared with their salt; the row,
  its digest and so the hash chain stay (registry.access_log).

Applications, permits and their history are kept: public records of licensing decisions, not held for a purpose
that ends. Each run writes what it did, as counts, to registry_retention_run and the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, Final

import msgspec
from sqlalchemy import ColumnElement, Select, Text, and_, cast, delete, exists, insert, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import permits.models  # noqa: F401  (its tables cite documents: they must be in the metadata read below)
from core.db import Base, transaction
from core.idempotency_keys import KEY_TTL, IdempotencyKey
from core.settings import RetentionSettings
from permits.models import SupplementNotice
from registry.access_log import clear_purposes
from registry.models import (
    AuthSession,
    Document,
    DocumentContent,
    KeyGroupClaim,
    KeyGroupClaimEvidence,
    KeyGroupDecision,
    LoginDelay,
    LoginFailure,
    RefreshToken,
    RetentionRun,
)

logger = logging.getLogger(__name__)

_DAY: Final = dt.timedelta(days=1)


class RetentionCounts(msgspec.Struct, frozen=True, kw_only=True):
    rejected_claims: int
    documents: int
    idempotency_keys: int
    login_failures: int
    access_purposes_cleared: int
    sessions: int
    refresh_tokens: int


def document_citations() -> list[ColumnElement[Any]]:
    """Every column that cites a document by foreign key, except the document's own bytes."""
    target = Document.__table__.c.id
    return [
        foreign_key.parent
        for table in Base.metadata.tables.values()
        if table is not DocumentContent.__table__
        for foreign_key in table.foreign_keys
        if foreign_key.column is target
    ]


def _uncited() -> ColumnElement[bool]:
    cited = [exists().where(column == Document.id) for column in document_citations()]
    # A supplement's answer lists its documents in JSON as well as in permits_application_document; either keeps.
    cited.append(exists().where(SupplementNotice.answer_documents.has_key(cast(Document.id, Text))))
    return not_(or_(*cited))


async def _unused_documents(session: AsyncSession, before: dt.datetime) -> list[uuid.UUID]:
    """The documents to purge, locked: a request citing one meanwhile wins, and the run goes on without it.

    A citation being written holds its document's key-share lock (the foreign key's check), which the run's
    FOR UPDATE would wait on, and then fail on the foreign key: such documents are skipped. One committed
    after the first statement's snapshot was taken is not seen by it, so the locked rows are asked again in a
    statement of their own (a fresh snapshot, as READ COMMITTED takes per statement); a citation after that
    waits for the run, then finds the document gone.
    """
    candidates = (
        select(Document.id)
        .where(Document.created_at < before, _uncited())
        .with_for_update(of=Document, skip_locked=True)
    )
    locked = list(await session.scalars(candidates))
    if not locked:
        return []
    return list(await session.scalars(select(Document.id).where(Document.id.in_(locked), _uncited())))


def _ended_sessions(before: dt.datetime) -> Select[uuid.UUID]:
    """Sign-ins that ended before `before`: revoked (signed out, reuse, deactivation, a password change), or
    opened before it with no refresh token good after it. Every access token of an API sign-in was issued with a
    refresh token that outlives it, and a console sign-in's token lives a working day: none of them holds still.
    """
    good_after = exists().where(RefreshToken.session_id == AuthSession.id, RefreshToken.expires_at >= before)
    return select(AuthSession.id).where(
        or_(AuthSession.revoked_at < before, and_(AuthSession.created_at < before, not_(good_after)))
    )


async def _purge_sessions(session: AsyncSession, before: dt.datetime) -> tuple[int, int]:
    """Delete sign-ins ended before `before` and refresh tokens expired before it; (sign-ins, tokens) deleted.

    No request can add to an ended sign-in meanwhile: a refresh needs a good token of a sign-in not revoked.
    """
    tokens = await session.execute(
        delete(RefreshToken).where(
            or_(RefreshToken.expires_at < before, RefreshToken.session_id.in_(_ended_sessions(before)))
        )
    )
    sessions = await session.execute(delete(AuthSession).where(AuthSession.id.in_(_ended_sessions(before))))
    return int(sessions.rowcount), int(tokens.rowcount)  # type: ignore[attr-defined]


async def apply_retention(session: AsyncSession, periods: RetentionSettings, *, now: dt.datetime) -> RetentionCounts:
    """Purge and clear what `periods` no longer allow keeping at `now`, in the caller's transaction."""
    claim_ids = list(
        await session.scalars(
            select(KeyGroupClaim.id)
            .join(KeyGroupDecision, KeyGroupDecision.claim_id == KeyGroupClaim.id)
            .where(
                and_(
                    KeyGroupClaim.status == "rejected",
                    KeyGroupDecision.decided_at < now - periods.rejected_claim_days * _DAY,
                )
            )
            .with_for_update(of=KeyGroupClaim, skip_locked=True)
        )
    )
    if claim_ids:
        await session.execute(delete(KeyGroupClaimEvidence).where(KeyGroupClaimEvidence.claim_id.in_(claim_ids)))
        await session.execute(delete(KeyGroupDecision).where(KeyGroupDecision.claim_id.in_(claim_ids)))
        await session.execute(delete(KeyGroupClaim).where(KeyGroupClaim.id.in_(claim_ids)))

    document_ids = await _unused_documents(session, now - periods.unused_document_days * _DAY)
    if document_ids:
        await session.execute(delete(DocumentContent).where(DocumentContent.document_id.in_(document_ids)))
        await session.execute(delete(Document).where(Document.id.in_(document_ids)))

    keys = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEY_TTL))
    failures = await session.execute(
        delete(LoginFailure).where(LoginFailure.window_start < now - periods.login_failure_days * _DAY)
    )
    # The progressive sign-in delays (registry.throttle) hold a typed username and an address: the same term.
    delays = await session.execute(
        delete(LoginDelay).where(LoginDelay.last_failed_at < now - periods.login_failure_days * _DAY)
    )
    cleared = await clear_purposes(session, before=now - periods.access_purpose_days * _DAY)
    sessions, tokens = await _purge_sessions(session, now - periods.session_days * _DAY)
    counts = RetentionCounts(
        rejected_claims=len(claim_ids),
        documents=len(document_ids),
        idempotency_keys=int(keys.rowcount),  # type: ignore[attr-defined]
        login_failures=int(failures.rowcount) + int(delays.rowcount),  # type: ignore[attr-defined]
        access_purposes_cleared=cleared,
        sessions=sessions,
        refresh_tokens=tokens,
    )
    await session.execute(insert(RetentionRun).values(ran_at=now, counts=msgspec.to_builtins(counts)))
    return counts


async def run_retention(
    sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime, *, periods: RetentionSettings
) -> RetentionCounts:
    async with transaction(sessionmaker) as session:
        counts = await apply_retention(session, periods, now=now)
    logger.info("retention: %s", ", ".join(f"{name} {value}" for name, value in msgspec.structs.asdict(counts).items()))
    return counts
