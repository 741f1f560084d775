"""The Idempotency-Key table and what a key is: its grammar, the fingerprint of the request it names, and the
three transitions of its row — claimed under a lease, completed with the stored result, released.

core.idempotency (the middleware) holds the semantics and decides when each transition happens; this module
only does them, each as one short transaction or, for completion, a statement in the caller's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from sqlalchemy import CheckConstraint, DateTime, LargeBinary, SmallInteger, String, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, transaction
from core.http_guard import json_depth

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
KEY_TTL = dt.timedelta(hours=24)
# The default lease (FLEXREG_IDEMPOTENCY_LEASE_SECONDS): longer than any request takes (statement timeout 5 s).
LEASE = dt.timedelta(seconds=60)
RETRY_AFTER_SECONDS = 1
# Larger responses are passed through and not stored (creating POSTs answer with a small document).
MAX_STORED_BODY = 256 * 1024
# The key space of callers without a token (replays there need the identical request: see `_principal`).
ANONYMOUS = "anonymous"

# What parse_key takes, as the schema's pattern (ECMA-262): 1-255 printable ASCII characters with no space at
# either end (HTTP trims those anyway), optionally wrapped in double quotes (a structured-field string), but
# not the empty quoted string. Its length bounds are in the pattern, as a quoted key is two characters longer.
KEY_PATTERN = r'^(?:[!-~]|[!#-~][ -~]{0,253}[!-~]|"[ -~]{0,253}[!#-~]|"[ -~]{1,255}")$'

_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class IdempotencyKey(Base):
    """One principal's use of one key: in progress under a lease, then the stored response."""

    __tablename__ = "core_idempotency_key"
    __table_args__ = (
        CheckConstraint("state IN ('in_progress', 'completed')", name="state_known"),
        CheckConstraint("state = 'in_progress' OR response_status IS NOT NULL", name="completed_has_response"),
    )

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    # SHA-256 (hex) of method, path, query and body: a retry must be the same request.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def is_stored(status: int) -> bool:
    """Results worth replaying: success and state conflicts. Refusals and failures let a retry run again."""
    return 200 <= status < 300 or status == 409


def parse_key(raw: bytes) -> str:
    """The key from the header value, or ValueError with the reason."""
    try:
        key = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError("must be printable ASCII") from None
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key:
        raise ValueError("must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"must be at most {MAX_KEY_LENGTH} characters")
    if any(not (0x20 <= ord(ch) <= 0x7E) for ch in key):
        raise ValueError("must be printable ASCII")
    if key == _ZERO_UUID:
        raise ValueError("must not be the all-zero UUID")
    return key


def fingerprint(secret: bytes, method: str, path: str, query: bytes, body: bytes) -> str:
    """A keyed hash: bodies such as a sign-up carry ID numbers and passwords, so a plain hash is guessable."""
    digest = hmac.new(secret, digestmod=hashlib.sha256)
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


_MAX_DEPTH = 32


def canonical_body(content_type: str, body: bytes) -> bytes:
    """The body as the fingerprint sees it: a retry rebuilt by the client must still match.

    JSON is re-encoded with sorted keys and no whitespace; multipart has its (random) boundary replaced.
    Anything unreadable is fingerprinted as sent (the handler will refuse it anyway).
    """
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    # Only shallow JSON is decoded here: this runs before the depth guard, and a deep body can exhaust the
    # stack of the server's event-loop thread inside the decoder.
    if (media_type == "application/json" or media_type.endswith("+json")) and json_depth(
        body, _MAX_DEPTH
    ) <= _MAX_DEPTH:
        try:
            return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
        except (msgspec.DecodeError, RecursionError):
            return body
    if media_type == "multipart/form-data":
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.lower() == "boundary" and value.strip('"'):
                return body.replace(value.strip('"').encode("latin-1"), b"<boundary>")
    return body


class Replay(msgspec.Struct, frozen=True):
    status: int
    headers: dict[str, str]
    body: bytes


class Claimed(msgspec.Struct, frozen=True):
    """The key is this request's until `lease` (its `locked_until`, which also fences its completion)."""

    lease: dt.datetime


Outcome = Literal["in_progress", "reused"] | Claimed | Replay


@dataclass
class Held:
    """The key a running request holds, shared by the middleware, the after-request hook and the session."""

    principal: str
    key: str
    lease: dt.datetime
    # The response as encoded for sending, noted while the request's session is still open (remember_response).
    response: Replay | None = None
    # The result committed with the business write (complete_in): nothing is left for the middleware to do.
    completed: bool = False
    # The lease ran out and another attempt took the key over: this one must leave the row alone.
    lost: bool = False


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: str,
    key: str,
    request_fingerprint: str,
    lease: dt.timedelta = LEASE,
) -> Outcome:
    """Claim the key for this request, or say why not (stored result, still running, different request)."""
    where = (IdempotencyKey.principal == principal, IdempotencyKey.key == key)
    for _ in range(3):
        now = dt.datetime.now(dt.UTC)
        fresh = {
            "fingerprint": request_fingerprint,
            "state": "in_progress",
            "created_at": now,
            "locked_until": now + lease,
        }
        async with transaction(sessionmaker) as session:
            # One statement: a new key is inserted, an expired one (past KEY_TTL) is taken over as if new.
            claimed = await session.scalar(
                insert(IdempotencyKey)
                .values(principal=principal, key=key, **fresh)
                .on_conflict_do_update(
                    index_elements=["principal", "key"],
                    set_={**fresh, "response_status": None, "response_headers": None, "response_body": None},
                    where=IdempotencyKey.created_at <= now - KEY_TTL,
                )
                .returning(IdempotencyKey.key)
            )
            if claimed is not None:
                return Claimed(now + lease)
            row = (await session.execute(select(IdempotencyKey).where(*where))).scalar_one_or_none()
            if row is None:
                continue  # released between our insert and our read: try again
            if row.fingerprint != request_fingerprint:
                return "reused"
            if row.state == "completed" and row.response_status is not None:
                return Replay(row.response_status, row.response_headers or {}, row.response_body or b"")
            if row.locked_until > now:
                return "in_progress"
            # The first attempt's lease ran out (it crashed or hung): this retry takes over.
            taken = await session.scalar(
                update(IdempotencyKey)
                .where(*where, IdempotencyKey.state == "in_progress", IdempotencyKey.locked_until <= now)
                .values(locked_until=now + lease)
                .returning(IdempotencyKey.key)
            )
            return Claimed(now + lease) if taken is not None else "in_progress"
    return "in_progress"


def _ours(held: Held) -> tuple[Any, ...]:
    """The key's row while this attempt still holds it: in progress under the very lease it claimed."""
    return (
        IdempotencyKey.principal == held.principal,
        IdempotencyKey.key == held.key,
        IdempotencyKey.state == "in_progress",
        IdempotencyKey.locked_until == held.lease,
    )


async def complete_with(session: AsyncSession, held: Held, result: Replay) -> bool:
    """Mark the key completed with this result, if this attempt still holds it; whether it did."""
    done = await session.scalar(
        update(IdempotencyKey)
        .where(*_ours(held))
        .values(
            state="completed",
            response_status=result.status,
            response_headers=result.headers,
            response_body=result.body,
        )
        .returning(IdempotencyKey.key)
    )
    return done is not None


async def complete(sessionmaker: async_sessionmaker[AsyncSession], held: Held, result: Replay) -> None:
    async with transaction(sessionmaker) as session:
        await complete_with(session, held, result)


async def release(sessionmaker: async_sessionmaker[AsyncSession], held: Held) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(delete(IdempotencyKey).where(*_ours(held)))
