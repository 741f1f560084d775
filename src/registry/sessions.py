"""Sign-ins as sessions: short access tokens, rotating refresh tokens, revocation that holds everywhere at once.

A sign-in opens a session (registry_auth_session); its access tokens name it (`sid`) and its refresh tokens
belong to it, a family. A refresh token is good once: using it spends it and hands out the next one. A spent
one presented again means two parties hold it (a copy was stolen, or a client raced itself), so the whole
family is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2); all but one retry shortly after the spending,
while the token it handed out is unused: a phone that lost the answer of its refresh (`_retry`). Every
authenticated request asks `is_live` on the request's own transaction, so a revocation, a deactivation or a
password change ends every token of the account on every process at once (ASVS 8.3.2).

Refresh tokens are 256 random bits, stored as their SHA-256 only: with that much entropy a fast hash is enough,
and a copy of the table lets no one sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.db import driver_connection
from registry.errors import InvalidRefreshToken, RefreshTokenReused
from registry.models import Account, AccountEvent, AccountEventKind, AuthSession, RefreshToken, SessionKind, Vendor


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# Asked on every authenticated request: hand-written and sent straight to the driver (core.db.driver_connection,
# inside the request's transaction), as SQLAlchemy's statement layer would cost more than the lookup itself.
_LIVE_SESSION = (
    "SELECT 1 FROM registry_account a JOIN registry_auth_session s ON s.account_id = a.id"
    " WHERE a.id = $1 AND a.is_active AND s.id = $2 AND s.revoked_at IS NULL"
)
_LIVE_WITHOUT_SESSION = (
    "SELECT 1 FROM registry_account WHERE id = $1 AND is_active"
    " AND (tokens_valid_after IS NULL OR tokens_valid_after < to_timestamp($2))"
)


async def is_live(session: AsyncSession, principal: Principal) -> bool:
    """Whether the token's sign-in still holds: the account is active and the session not revoked (a token
    without a session: issued after the account's `tokens_valid_after`). One statement, primary-key lookups."""
    driver = await driver_connection(session)
    if principal.session_id is not None:
        row = await driver.fetchrow(_LIVE_SESSION, principal.account_id, principal.session_id)
    else:
        row = await driver.fetchrow(_LIVE_WITHOUT_SESSION, principal.account_id, float(principal.issued_at))
    return row is not None


async def open_session(
    session: AsyncSession, principal: Principal, *, kind: SessionKind, now: dt.datetime
) -> Principal:
    """A new sign-in for this principal; returns the principal naming it (its tokens carry the `sid`)."""
    auth_session = AuthSession(id=uuid.uuid4(), account_id=principal.account_id, kind=kind, created_at=now)
    session.add(auth_session)
    await session.flush()
    return Principal(
        account_id=principal.account_id,
        role=principal.role,
        jurisdiction_code=principal.jurisdiction_code,
        department_code=principal.department_code,
        vendor_id=principal.vendor_id,
        session_id=auth_session.id,
    )


async def open_api_session(
    session: AsyncSession, principal: Principal, *, now: dt.datetime, ttl_seconds: int
) -> tuple[Principal, str]:
    """A sign-in through the API: its principal (with `sid`) and the first refresh token of its family."""
    signed_in = await open_session(session, principal, kind="api", now=now)
    session_id = signed_in.session_id
    if session_id is None:  # open_session always names one; this keeps the type honest
        raise RuntimeError("a new session has no id")
    return signed_in, await issue_refresh_token(session, session_id, now=now, ttl_seconds=ttl_seconds)


async def issue_refresh_token(
    session: AsyncSession, session_id: uuid.UUID, *, now: dt.datetime, ttl_seconds: int, token: str | None = None
) -> str:
    """A new refresh token of the session's family (`token`, if its hash is already named); only its hash is kept."""
    token = token or secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash(token),
            session_id=session_id,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=ttl_seconds),
        )
    )
    await session.flush()
    return token


async def rotate(
    session: AsyncSession, token: str, *, now: dt.datetime, ttl_seconds: int, grace_seconds: int
) -> tuple[Principal, str] | RefreshTokenReused:
    """Spend a refresh token: the principal of its (still live) sign-in and the family's next token.

    The database decides who spends it: of two requests presenting the same token at once, the conditional
    UPDATE matches for exactly one; the other waits for that one's row lock, then finds it spent. A spent token
    revokes its family, but for one retry within `grace_seconds` of its spending (`_retry`); that refusal is
    returned, not raised, so the revocation commits with the request. An unknown or expired token, or one whose
    sign-in has ended, raises InvalidRefreshToken (401).
    """
    digest = _hash(token)
    successor = secrets.token_urlsafe(32)
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == digest, RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now, replaced_by=_hash(successor))
        .returning(RefreshToken.session_id)
    )
    session_id = spent.scalar_one_or_none()
    if session_id is None:
        retried = await _retry(session, digest, now=now, grace_seconds=grace_seconds)
        if isinstance(retried, RefreshTokenReused):
            return retried
        session_id = retried
    row = (
        await session.execute(
            select(Account, Vendor.id)
            .join(AuthSession, AuthSession.account_id == Account.id)
            .outerjoin(Vendor, Vendor.account_id == Account.id)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None), Account.is_active)
        )
    ).one_or_none()
    if row is None:
        raise InvalidRefreshToken()
    account, vendor_id = row
    principal = Principal(
        account_id=account.id,
        role=account.role,  # type: ignore[arg-type]
        jurisdiction_code=account.jurisdiction_code,
        department_code=account.department_code,
        vendor_id=vendor_id,
        session_id=session_id,
    )
    issued = await issue_refresh_token(session, session_id, now=now, ttl_seconds=ttl_seconds, token=successor)
    return principal, issued


async def _retry(
    session: AsyncSession, digest: bytes, *, now: dt.datetime, grace_seconds: int
) -> uuid.UUID | RefreshTokenReused:
    """A spent token presented again: the retry of a client that lost the answer, or a copy in other hands.

    Within the grace of its spending, and while the token that spending handed out is unused, it is taken for a
    retry: that successor is spent in its stead (it was never seen, or its holder will be refused: a superseded
    token names no successor, so presented it revokes the family) and the caller issues a new pair. Only its hash
    is kept, so the same successor cannot be handed out again. The successor is spent by a conditional UPDATE: of
    retries at once, exactly one matches, and a spent token is so retried at most once; every other presentation
    revokes the family, as any reuse outside the grace does. Its session id, or the refusal to answer.
    """
    spent = (
        await session.execute(
            select(RefreshToken.session_id, RefreshToken.used_at, RefreshToken.replaced_by).where(
                RefreshToken.token_hash == digest, RefreshToken.used_at.is_not(None)
            )
        )
    ).one_or_none()
    if spent is None:
        raise InvalidRefreshToken()
    session_id, used_at, successor = spent
    if successor is not None and used_at is not None and now - used_at < dt.timedelta(seconds=grace_seconds):
        superseded = await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == successor,
                RefreshToken.session_id == session_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.session_id)
        )
        if superseded.scalar_one_or_none() is not None:
            return session_id
    await revoke_sessions(session, AuthSession.id == session_id, now=now, reason="refresh_token_reused")
    return RefreshTokenReused()


async def revoke_sessions(session: AsyncSession, *where: object, now: dt.datetime, reason: str) -> None:
    """Revoke the sessions matching `where` that are not revoked yet."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.revoked_at.is_(None), *where)  # type: ignore[arg-type]
        .values(revoked_at=now, revoked_reason=reason)
    )


async def end_all_tokens(
    session: AsyncSession, account_id: uuid.UUID, *, now: dt.datetime, reason: str, keep: uuid.UUID | None = None
) -> None:
    """End every sign-in of the account (but `keep`), and every token of it issued without one."""
    where = [AuthSession.account_id == account_id]
    if keep is not None:
        where.append(AuthSession.id != keep)
    await revoke_sessions(session, *where, now=now, reason=reason)
    await _end_tokens_without_session(session, account_id)


async def _end_tokens_without_session(session: AsyncSession, account_id: uuid.UUID) -> None:
    # Real time, as the tokens' `iat` is (core.auth: JWT times are real-time security, not the settings' clock).
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    await session.execute(update(Account).where(Account.id == account_id).values(tokens_valid_after=now))


async def sign_out(session: AsyncSession, principal: Principal, *, now: dt.datetime, everywhere: bool) -> None:
    """End the caller's sign-in (a token without one: all such tokens of the account), or all of them."""
    if everywhere:
        await end_all_tokens(session, principal.account_id, now=now, reason="signed_out")
    elif principal.session_id is None:
        await _end_tokens_without_session(session, principal.account_id)
    else:
        await revoke_sessions(session, AuthSession.id == principal.session_id, now=now, reason="signed_out")


async def record_event(
    session: AsyncSession, account_id: uuid.UUID, event: AccountEventKind, *, actor: Principal, now: dt.datetime
) -> None:
    session.add(AccountEvent(account_id=account_id, event=event, actor_account_id=actor.account_id, at=now))
    await session.flush()
