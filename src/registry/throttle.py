"""Sign-in throttling that slows guessing without letting anyone lock a person out.

Two counts, both in PostgreSQL so every process sees them:

- per username and client address (`registry_login_delay`): the first `login_free_failures` failures are free;
  after n failures the next attempt from that address waits 2^(n - free) seconds from the last failure, at
  most `login_delay_cap_seconds`. A success resets the pair. An attempt made during the wait is refused (429
  with Retry-After) without looking at the password, so it neither counts nor reveals anything. Checking and
  counting are one atomic step (`claim_attempt`), so a burst at once gets no more than the free attempts.
- per username across all clients (`registry_login_failure`, fixed windows): past `login_failure_limit`
  failures in the window, an address that has failed for the username is refused until the window ends. An
  address with no failure for it is still let try, so the owner signs in from their own phone while a botnet
  elsewhere gets one guess per address per window.

An attacker failing from address A therefore slows only A's attempts: the owner at B is never delayed.
The address is core.client_address's (X-Forwarded-For believed only from FLEXREG_TRUSTED_PROXIES).
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import AuthSettings
from registry.errors import TooManyLoginAttempts
from registry.models import LoginDelay, LoginFailure

_KEY_LENGTH = 64


def username_key(username: str) -> str:
    return username.lower()[:_KEY_LENGTH]


def _client_key(client: str) -> str:
    return client[:_KEY_LENGTH]


def _window(now: dt.datetime, window_seconds: int) -> tuple[dt.datetime, int]:
    """The fixed window `now` falls in: its start, and the seconds until it ends."""
    start = dt.datetime.fromtimestamp(now.timestamp() - now.timestamp() % window_seconds, dt.UTC)
    # Whole seconds, rounded up: Retry-After must not name a moment inside the window.
    return start, math.ceil((start + dt.timedelta(seconds=window_seconds) - now).total_seconds())


def delay_seconds(failures: int, settings: AuthSettings) -> int:
    """How long after the last failure the next attempt must wait, for a pair with this many failures."""
    extra = failures - settings.login_free_failures
    if extra < 0:
        return 0
    # 2**extra grows past any cap quickly; compare exponents so a huge count never builds a huge number.
    if extra >= settings.login_delay_cap_seconds.bit_length():
        return settings.login_delay_cap_seconds
    return min(1 << extra, settings.login_delay_cap_seconds)


async def claim_attempt(
    session: AsyncSession, settings: AuthSettings, *, username: str, client: str, now: dt.datetime
) -> None:
    """Count an attempt for the pair before its password is looked at, or refuse it (429 with Retry-After).

    Check and count are one step under the pair's row lock: the upsert takes the lock (inserting the pair at no
    failures if it is new) and returns its count, and the count goes up before the lock is let go. Attempts at
    once from one pair so queue on the row, and each sees the ones before it: of a burst, only the free ones
    reach the password. Counted as a failure in advance; a success forgives it (`record_success`). The caller
    runs this in a short transaction of its own, committed before the password check: a count that waited for
    the request's commit would hold the row, and every attempt behind it, across the password hashing. So, like
    the rate limits' counts (core.rate_limits), it is a deliberate exception to one transaction per request: a
    right password whose request then fails (a 503 at commit) stays counted as one failure.
    """
    key, client_key = username_key(username), _client_key(client)
    pair = pg_insert(LoginDelay).values(username_key=key, client_key=client_key, failures=0, last_failed_at=now)
    locked = await session.execute(
        pair.on_conflict_do_update(
            index_elements=[LoginDelay.username_key, LoginDelay.client_key],
            set_={"failures": LoginDelay.failures},  # no change: the statement is here for the lock
        ).returning(LoginDelay.failures, LoginDelay.last_failed_at)
    )
    failures, last_failed_at = locked.one()
    if now - last_failed_at >= dt.timedelta(seconds=settings.login_memory_seconds):
        failures = 0
    if failures > 0:
        until = last_failed_at + dt.timedelta(seconds=delay_seconds(failures, settings))
        if now < until:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyLoginAttempts(headers={"Retry-After": str(wait)})
        window_start, remaining = _window(now, settings.login_window_seconds)
        total = await session.scalar(
            select(LoginFailure.failures).where(
                LoginFailure.username_key == key, LoginFailure.window_start == window_start
            )
        )
        if total is not None and total >= settings.login_failure_limit:
            raise TooManyLoginAttempts(headers={"Retry-After": str(remaining)})
    await session.execute(
        update(LoginDelay)
        .where(LoginDelay.username_key == key, LoginDelay.client_key == client_key)
        .values(failures=failures + 1, last_failed_at=now)
    )


async def record_failure(session: AsyncSession, settings: AuthSettings, *, username: str, now: dt.datetime) -> None:
    """Count a failure in the username's window (the pair's was counted by `claim_attempt`, in advance)."""
    window_start, _ = _window(now, settings.login_window_seconds)
    window = pg_insert(LoginFailure).values(username_key=username_key(username), window_start=window_start, failures=1)
    await session.execute(
        window.on_conflict_do_update(
            index_elements=[LoginFailure.username_key, LoginFailure.window_start],
            set_={"failures": LoginFailure.failures + 1},
        )
    )


async def record_success(session: AsyncSession, *, username: str, client: str) -> None:
    """The pair signed in: its failures are forgiven, the one counted in advance too (the username's window
    count stays)."""
    await session.execute(
        delete(LoginDelay).where(
            LoginDelay.username_key == username_key(username), LoginDelay.client_key == _client_key(client)
        )
    )
