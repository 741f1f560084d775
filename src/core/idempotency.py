"""`Idempotency-Key` on POST: a retry with the same key returns the first result instead of acting twice.

Semantics follow Stripe and draft-ietf-httpapi-idempotency-key-header (RELIABILITY.md A12, A13, §3.2):

- Keys are scoped per principal (the bearer token's account), so one caller's key never returns another
  caller's response. Callers without a token (public sign-up, what phones retry most) share a key space of
  their own, where a replay needs the identical request (see `_principal`). A request with a bad token, or
  with none on a route that requires one, passes straight through: its route's guard answers it (401),
  before any key is looked at. A key is 1-255 printable ASCII
  characters (a structured-field string's quotes are dropped); anything else is a 400 naming the header.
- The first request claims the key with one `INSERT … ON CONFLICT DO NOTHING` and runs. A 2xx or 409 result
  is stored (status, body, and the content-type/location/etag headers) and replayed byte for byte, with
  `Idempotent-Replayed: true`, to a retry with the same method, path and body. Anything else (validation
  refusals, 401/403/404, 5xx, responses marked `Cache-Control: no-store`) releases the key, so a retry
  executes afresh.
- Same key with a different request → 422 `idempotency_key_reused`; same key while the first request still
  holds its lease → 409 `idempotency_key_in_progress` with Retry-After.
- Stored keys count as absent after 24 hours; an expired row is deleted when its key is next claimed.

Known limit: the key is claimed and completed in transactions of its own, separate from the business write.
A crash after the business commit but before the completion leaves the key in progress; once its lease
(`locked_until`) expires a retry executes again (and meets whatever the first attempt created, typically
a 409). Keys that are never reused stay in the table until something deletes rows older than 24 hours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import msgspec
from sqlalchemy import CheckConstraint, DateTime, LargeBinary, SmallInteger, String, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import decode_token
from core.db import Base, transaction
from core.errors import PROBLEM_MEDIA_TYPE, FieldError, NotAuthenticated, ProblemOut
from core.http_guard import json_depth
from core.metrics import count_refusal
from core.request_log import request_id_of

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
KEY_TTL = dt.timedelta(hours=24)
# Longer than any request may take (statement timeout 5 s): a live request is never taken over.
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

_REPLAYED_HEADERS = (b"content-type", b"location", b"etag")
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


class _Replay(msgspec.Struct, frozen=True):
    status: int
    headers: dict[str, str]
    body: bytes


Outcome = Literal["claimed", "in_progress", "reused"] | _Replay


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], principal: str, key: str, request_fingerprint: str
) -> Outcome:
    """Claim the key for this request, or say why not (stored result, still running, different request)."""
    where = (IdempotencyKey.principal == principal, IdempotencyKey.key == key)
    for _ in range(3):
        now = dt.datetime.now(dt.UTC)
        async with transaction(sessionmaker) as session:
            await session.execute(delete(IdempotencyKey).where(*where, IdempotencyKey.created_at <= now - KEY_TTL))
            claimed = await session.scalar(
                insert(IdempotencyKey)
                .values(
                    principal=principal,
                    key=key,
                    fingerprint=request_fingerprint,
                    state="in_progress",
                    created_at=now,
                    locked_until=now + LEASE,
                )
                .on_conflict_do_nothing(index_elements=["principal", "key"])
                .returning(IdempotencyKey.key)
            )
            if claimed is not None:
                return "claimed"
            row = (await session.execute(select(IdempotencyKey).where(*where))).scalar_one_or_none()
            if row is None:
                continue  # released between our insert and our read: try again
            if row.fingerprint != request_fingerprint:
                return "reused"
            if row.state == "completed" and row.response_status is not None:
                return _Replay(row.response_status, row.response_headers or {}, row.response_body or b"")
            if row.locked_until > now:
                return "in_progress"
            # The first attempt's lease ran out (it crashed or hung): this retry takes over.
            taken = await session.scalar(
                update(IdempotencyKey)
                .where(*where, IdempotencyKey.state == "in_progress", IdempotencyKey.locked_until <= now)
                .values(locked_until=now + LEASE)
                .returning(IdempotencyKey.key)
            )
            return "claimed" if taken is not None else "in_progress"
    return "in_progress"


async def complete(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: str,
    key: str,
    *,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
            .values(state="completed", response_status=status, response_headers=headers, response_body=body)
        )


async def release(sessionmaker: async_sessionmaker[AsyncSession], principal: str, key: str) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.principal == principal,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_progress",
            )
        )


def _principal(scope: Scope, headers: list[tuple[bytes, bytes]]) -> str | None:
    """Whose keys these are, or None when the key cannot be honoured (a bad token: the guard answers 401).

    A valid token's account. Callers without a token (public sign-up, what phones retry most, often from a
    new network address) share one key space of their own: a stored response is replayed only to the very
    same request (method, path and body, which holds the sign-up's ID number and password), so no caller
    can read another's result; any other request under a taken key is a 422, as for an account's key.
    """
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            try:
                return str(decode_token(scope["app"].state.settings.auth, token.strip()).account_id)
            except NotAuthenticated:
                return None
    return ANONYMOUS


def _requires_token(scope: Scope) -> bool:
    """Whether the route's OpenAPI security makes a token mandatory (no empty, anonymous alternative)."""
    handler = scope.get("route_handler")
    resolve = getattr(handler, "resolve_security", None)
    security = (resolve() if resolve is not None else None) or []
    return bool(security) and not any(requirement == {} for requirement in security)


def _problem_messages(
    scope: Scope,
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> list[Message]:
    count_refusal(code, status)
    body = msgspec.json.encode(
        ProblemOut(
            type=f"/problems/{code}",
            title=title,
            status=status,
            code=code,
            detail=detail,
            instance=scope.get("path"),
            errors=errors,
            request_id=request_id_of(scope),
        )
    )
    start_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": start_headers},
        {"type": "http.response.body", "body": body, "more_body": False},
    ]


def _replay_messages(replay: _Replay) -> list[Message]:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in replay.headers.items()]
    headers += [(b"content-length", str(len(replay.body)).encode()), (b"idempotent-replayed", b"true")]
    return [
        {"type": "http.response.start", "status": replay.status, "headers": headers},
        {"type": "http.response.body", "body": replay.body, "more_body": False},
    ]


def _body_limit(scope: Scope) -> int | None:
    handler = scope.get("route_handler")
    resolve = getattr(handler, "resolve_request_max_body_size", None)
    limit = resolve() if resolve is not None else None
    return limit if isinstance(limit, int) else None


class IdempotencyMiddleware:
    """Make a POST carrying `Idempotency-Key` safe to retry; everything else passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]  # type: ignore[assignment]
        values = [value for name, value in headers if name == HEADER]
        principal = _principal(scope, headers) if values else None
        anonymous = not any(name == b"authorization" for name, _ in headers)
        if principal is None or (anonymous and _requires_token(scope)):
            # Without a token on a route that needs one, the guard's 401 comes first, not a key's 422.
            await self.app(scope, receive, send)
            return
        try:
            if len(values) > 1:
                raise ValueError("may be given only once")
            key = parse_key(values[0])
        except ValueError as exc:
            reason = str(exc)
            for event in _problem_messages(
                scope,
                400,
                "invalid_idempotency_key",
                "The Idempotency-Key header is not valid",
                f"Idempotency-Key: {reason}",
                errors=[FieldError("Idempotency-Key", reason)],
            ):
                await send(event)
            return

        # Read the whole body (it is hashed), within the route's size limit; beyond it the route answers 413.
        received: list[ReceiveMessage] = []
        size, limit = 0, _body_limit(scope)
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message["body"])
            if (limit is not None and size > limit) or not message.get("more_body", False):
                break
        last = received[-1]
        if last["type"] != "http.request" or last.get("more_body", False) or (limit is not None and size > limit):
            await self.app(scope, _replaying(received, receive), send)
            return
        body = b"".join(message["body"] for message in received if message["type"] == "http.request")

        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        secret = scope["app"].state.settings.auth.secret_key
        content_type = next((value.decode("latin-1") for name, value in headers if name == b"content-type"), "")
        request_fingerprint = fingerprint(
            secret, "POST", scope["path"], scope.get("query_string", b""), canonical_body(content_type, body)
        )
        outcome = await claim(sessionmaker, principal, key, request_fingerprint)
        if isinstance(outcome, _Replay):
            events = _replay_messages(outcome)
        elif outcome == "reused":
            events = _problem_messages(
                scope,
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request",
                "Send a new key for a new request; a retry must repeat the method, path and body exactly",
            )
        elif outcome == "in_progress":
            events = _problem_messages(
                scope,
                409,
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is still running",
                "Retry shortly to receive its result",
                headers=((b"retry-after", str(RETRY_AFTER_SECONDS).encode()),),
            )
        else:
            await self._run(scope, body, receive, send, sessionmaker, principal, key)
            return
        for event in events:
            await send(event)

    async def _run(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: str,
        key: str,
    ) -> None:
        """Run the request holding the key; store a replayable result, or release the key, before answering."""
        buffered: list[Message] = []
        size = 0
        passing_through = False

        async def capture(message: Message) -> None:
            nonlocal size, passing_through
            if passing_through:
                await send(message)
                return
            buffered.append(message)
            if message["type"] == "http.response.body":
                size += len(message["body"])
            if message["type"] not in ("http.response.start", "http.response.body") or size > MAX_STORED_BODY:
                # Too large or not a plain response: not kept; send what we have and stream the rest.
                passing_through = True
                for event in buffered:
                    await send(event)
                buffered.clear()

        try:
            request: ReceiveMessage = {"type": "http.request", "body": body, "more_body": False}
            await self.app(scope, _replaying([request], receive), capture)
        except Exception:
            await _release_quietly(sessionmaker, principal, key)
            raise
        start = buffered[0] if buffered and buffered[0]["type"] == "http.response.start" else None
        kept = _kept_headers(start["headers"]) if start is not None else None
        if start is not None and kept is not None and is_stored(start["status"]):
            response_body = b"".join(message["body"] for message in buffered if message["type"] == "http.response.body")
            try:
                await complete(sessionmaker, principal, key, status=start["status"], headers=kept, body=response_body)
            except Exception:
                # The business write stands; the key stays in progress until its lease expires (module docstring).
                logger.exception("could not store the result for an idempotency key")
        else:
            await _release_quietly(sessionmaker, principal, key)
        for event in buffered:
            await send(event)


def _kept_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str] | None:
    """The headers a replay repeats, or None if the response must not be kept (Cache-Control: no-store)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lowered = bytes(name).lower()
        if lowered == b"cache-control" and b"no-store" in bytes(value).lower():
            return None
        if lowered in _REPLAYED_HEADERS:
            kept[lowered.decode("latin-1")] = bytes(value).decode("latin-1")
    return kept


async def _release_quietly(sessionmaker: async_sessionmaker[AsyncSession], principal: str, key: str) -> None:
    try:
        await release(sessionmaker, principal, key)
    except Exception:
        logger.exception("could not release an idempotency key; it frees itself when its lease expires")


def _replaying(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """A receive() that hands out the messages already read, then defers to the server's."""
    pending = list(messages)

    async def replay() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
