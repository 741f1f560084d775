"""Rate limits shared by every app process: counters in PostgreSQL, one per limit, caller and window.

A limited request first claims a place in its window with one `INSERT … ON CONFLICT DO UPDATE … RETURNING count`
(two for a vendor: its account's and its address's) in a transaction of its own, committed before the handler
runs: the count holds however the request ends (a refused or failed one counts too) and every process sees it at
once, so four workers let through the limit, not four times it (RELIABILITY.md T-R1). Past the limit the request
is refused with 429 `rate_limited`, naming the limit, with Retry-After: the whole seconds to the window's end.

Windows are fixed (aligned to the epoch in multiples of the window's length): one row per caller and window, no
per-request rows. A caller can so send up to twice the limit across a window boundary, which these limits (sized
for people, not scripts) tolerate. Old windows are deleted by the periodic job `prune_rate_limits`.

The caller is the account when the request carries a valid token (staff behind one street office's NAT each count
alone, T-R4), else the client address through trusted proxies only (`core.client_address`, T-R3). Anyone may open
vendor accounts, so a vendor's request counts against its address as well, under a second, larger limit where the
handler names one (`Limited.vendors_per_address`): more accounts buy no more requests from one address. The bucket
stores a keyed hash of the caller, not the address or account id: the table holds no personal data.

Which handler is limited, and by which limit, is the app factory's to say (`rate_limit_guard(table)`): the
domains' handlers do not know about it. The limits' values are settings (`core.rate_limit_rules`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.types import Guard
from sqlalchemy import DateTime, Integer, String, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import optional_principal_of
from core.client_address import client_address
from core.db import Base, transaction
from core.errors import DomainError, RateLimited
from core.openapi import ExtraProblems
from core.rate_limit_rules import RateLimit
from core.settings import Settings

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class RateLimitCounter(Base):
    """Requests one caller made under one limit in one window."""

    __tablename__ = "core_rate_limit_counter"

    # "<limit>:<keyed hash of the caller>"
    bucket: Mapped[str] = mapped_column(String(96), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    window_end: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    count: Mapped[int] = mapped_column(Integer)


class Limited(NamedTuple):
    """A handler's limit: its name in the settings, whether an authenticated caller counts per account, and the
    limit a vendor's address counts under as well (None: the vendor's account only)."""

    name: str
    per_account: bool = True
    vendors_per_address: str | None = None


# A handler function (`Controller.method.fn`) and its limit: what the app factory hands `rate_limit_guard`.
LimitTable = Mapping[Callable[..., Any], Limited]

# Its own statement, its own transaction: the count is committed whatever the request does next. The commit does
# not wait for the WAL to reach disk (synchronous_commit off for this transaction only, set by the statement
# itself to save a round trip): a crash may forget the last few counts, which a limit can afford, and the row
# lock every request of a hot bucket queues on is held for a round trip, not for an fsync (a claim then costs about
# what a one-statement transaction does; with the fsync, about twice that, measured on this machine under load).
_CLAIM = text(
    "INSERT INTO core_rate_limit_counter (bucket, window_start, window_end, count) "
    "SELECT :bucket, :window_start, :window_end, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s "
    "ON CONFLICT (bucket, window_start) DO UPDATE SET count = core_rate_limit_counter.count + 1 "
    "RETURNING count"
)


class Window(NamedTuple):
    start: dt.datetime
    end: dt.datetime


def window_of(now: dt.datetime, seconds: int) -> Window:
    """The fixed window holding `now`: epoch-aligned, `seconds` long."""
    elapsed = math.floor((now - _EPOCH).total_seconds())
    start = _EPOCH + dt.timedelta(seconds=elapsed - elapsed % seconds)
    return Window(start, start + dt.timedelta(seconds=seconds))


def bucket_of(limit_name: str, caller: str, secret_key: bytes) -> str:
    """The counter's key: the limit, and a keyed hash of the caller (no address or account id stored).

    Keyed with a subkey derived from the service's secret, not the token-signing key itself.
    """
    key = hmac.new(secret_key, b"flexreg rate limit buckets", hashlib.sha256).digest()
    digest = hmac.new(key, caller.encode(), hashlib.sha256).hexdigest()[:40]
    return f"{limit_name}:{digest}"


class Claim(NamedTuple):
    """One count a request takes: under this limit, for this caller."""

    name: str
    limit: RateLimit
    caller: str


async def claim_all(
    sessionmaker: async_sessionmaker[AsyncSession], buckets: Sequence[tuple[str, Window, int]]
) -> list[int]:
    """Count one request in each bucket's window (with its limit), in order, in one transaction committed at
    once; the counts. Counting stops at the first bucket over its limit: a vendor refused by its account's limit
    does not spend its address's, which other people at that address share."""
    async with transaction(sessionmaker) as session:
        counts = []
        for bucket, window, allowed in buckets:
            result = await session.execute(
                _CLAIM, {"bucket": bucket, "window_start": window.start, "window_end": window.end}
            )
            counts.append(int(result.scalar_one()))
            if counts[-1] > allowed:
                break
        return counts


def claims_of(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings, limited: Limited) -> list[Claim]:
    """What the request counts against: the account of a valid token (when the limit counts per account), else
    the client's address; a vendor's account and, under `limited.vendors_per_address`, its address too.

    The account's count comes first: requests claiming both lock the account's row, then the address's, and so
    never wait on each other in a circle.
    """
    limit = settings.rate_limits.get(limited.name)
    if limit is None:
        return []
    address = f"address:{client_address(connection.scope, settings.http.trusted_proxies)}"
    principal = None
    if limited.per_account:
        try:
            principal = optional_principal_of(connection)
        except DomainError:  # a bad token: its refusal comes from the route's guard; it counts by address
            principal = None
    if principal is None:
        return [Claim(limited.name, limit, address)]
    claims = [Claim(limited.name, limit, f"account:{principal.account_id}")]
    # Staff count per account only: a street office's people sit behind one NAT (T-R4).
    address_limit = settings.rate_limits.get(limited.vendors_per_address or "")
    if principal.role == "vendor" and limited.vendors_per_address and address_limit is not None:
        claims.append(Claim(limited.vendors_per_address, address_limit, address))
    return claims


def _refusal(claimed: Claim, window: Window, now: dt.datetime) -> RateLimited:
    wait = max(1, math.ceil((window.end - now).total_seconds()))
    per = "this account" if claimed.caller.startswith("account:") else "this address"
    limit = claimed.limit
    return RateLimited(
        f"At most {limit.requests} requests per {limit.window_seconds} s under the limit {claimed.name!r} "
        f"for {per}; try again in {wait} s",
        headers={"Retry-After": str(wait)},
        limit=claimed.name,
        limit_requests=limit.requests,
        window_seconds=limit.window_seconds,
    )


def limit_of(table: LimitTable, handler: BaseRouteHandler) -> Limited | None:
    """The handler's limit: a controller's handlers hold their method bound to the controller instance."""
    return table.get(getattr(handler.fn, "__func__", handler.fn))


def rate_limit_guard(table: LimitTable) -> Guard:
    """An app-wide guard: a handler in `table` claims a place in its limit's window before anything else runs."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        limited = limit_of(table, handler)
        if limited is None:
            return
        state = connection.app.state
        settings: Settings = state.settings
        claims = claims_of(connection, settings, limited)
        if not claims:
            return
        now = settings.now()
        windows = [window_of(now, claimed.limit.window_seconds) for claimed in claims]
        buckets = [bucket_of(claimed.name, claimed.caller, settings.auth.secret_key) for claimed in claims]
        allowed = [claimed.limit.requests for claimed in claims]
        counts = await claim_all(state.sessionmaker, list(zip(buckets, windows, allowed, strict=True)))
        for claimed, window, count in zip(claims, windows, counts, strict=False):  # counting stops at a refusal
            if count > claimed.limit.requests:
                raise _refusal(claimed, window, now)

    return guard


async def prune_rate_limits(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> None:
    """Delete the counters of windows that have ended (a periodic job: flexreg.jobs)."""
    async with transaction(sessionmaker) as session:
        await session.execute(text("DELETE FROM core_rate_limit_counter WHERE window_end <= :now"), {"now": now})


def rate_limit_problems(table: LimitTable) -> ExtraProblems:
    """For the OpenAPI document: a limited handler can answer 429 `rate_limited`."""

    def problems(handler: HTTPRouteHandler) -> Sequence[type[DomainError]]:
        return (RateLimited,) if limit_of(table, handler) is not None else ()

    return problems
