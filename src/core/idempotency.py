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

Crash safety (RELIABILITY.md T-I9): the claim commits on its own, before the handler runs (so a concurrent
retry sees it), but a stored 2xx is recorded by the request's own transaction, the one holding the business
write: the app's after-request hook (`remember_response`) makes the handler's response keep its encoded form
(status, headers, body: exactly what is sent), and the request's session (`complete_in`, called by
flexreg.app's session dependency after the handler and before its commit) marks the key completed with it.
Litestar builds the response before it cleans up generator dependencies, so the session is still open then.
A crash therefore loses both the business write and the completion, or keeps both: a retry either replays
or, once the crashed attempt's lease (`locked_until`, FLEXREG_IDEMPOTENCY_LEASE_SECONDS) has run out, takes
the key over and executes, exactly once. The completion is fenced by the lease: an attempt whose key was
taken over meanwhile (it outlived its lease) is rolled back and answered 409 `idempotency_key_in_progress`,
so a slow first attempt and its retry never both commit. Results that commit no business write through the
session (a stored 409 refusal, a handler without a session) are recorded by the middleware afterwards in a
transaction of its own, as are releases. Keys that are never reused stay in the table until something
deletes rows older than 24 hours.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Response
from litestar.response.base import ASGIResponse

from core.auth import SessionCheck, decode_token
from core.db import transaction
from core.errors import PROBLEM_MEDIA_TYPE, FieldError, IdempotencyKeyInProgress, NotAuthenticated, ProblemOut
from core.idempotency_keys import (
    ANONYMOUS,
    HEADER,
    MAX_STORED_BODY,
    RETRY_AFTER_SECONDS,
    Held,
    Replay,
    canonical_body,
    claim,
    complete,
    complete_with,
    fingerprint,
    is_stored,
    parse_key,
    release,
)
from core.metrics import count_refusal
from core.request_log import request_id_of

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

_REPLAYED_HEADERS = (b"content-type", b"location", b"etag")
# Where the request's scope state carries the key it holds (`Held`).
_SCOPE_KEY = "flexreg.idempotency"


def _held(scope: Scope) -> Held | None:
    state: dict[str, Any] = scope.get("state") or {}
    held = state.get(_SCOPE_KEY)
    return held if isinstance(held, Held) else None


async def complete_in(session: AsyncSession, scope: Scope) -> Held | None:
    """Record the request's stored result in its own (business) transaction, before that commits.

    Called by the request's session dependency after the handler. Returns the key recorded, if any; raises
    IdempotencyKeyInProgress, rolling the business write back, if the key was taken over meanwhile.
    """
    held = _held(scope)
    result = held.response if held is not None else None
    if held is None or result is None or not is_stored(result.status) or len(result.body) > MAX_STORED_BODY:
        return None
    if not await complete_with(session, held, result):
        held.lost = True
        raise IdempotencyKeyInProgress(
            "This attempt outlived its lease on the Idempotency-Key and was undone; retry to receive the result",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return held


class _RecordingResponse(Response[Any]):
    """A handler's response that notes its encoded form for the key its request holds (see remember_response)."""

    __slots__ = ()

    def to_asgi_response(self, app: Litestar | None, request: Request[Any, Any, Any], **kwargs: Any) -> ASGIResponse:
        asgi = super().to_asgi_response(app, request, **kwargs)
        held = _held(request.scope)
        if held is not None and type(asgi) is ASGIResponse:
            kept = _kept_headers(asgi.encode_headers())
            held.response = Replay(asgi.status_code, kept, asgi.body) if kept is not None else None
        return asgi


async def remember_response(response: Response[Any]) -> Response[Any]:
    """The app's after-request hook: let the request's session see the response it is about to send.

    A coroutine, though it awaits nothing: Litestar runs a plain function hook in a worker thread, which cost a
    thread hop on every response (py-spy showed ThreadPoolExecutor.submit under every GET /activities).

    Litestar encodes a handler's response (`to_asgi_response`, right after this hook) before it cleans up the
    handler's generator dependencies, so the session dependency, still open, can store exactly those bytes.
    Only a plain Response is noted (files, streams and templates are never replayed); its class is swapped
    for a subclass adding no state, which keeps every attribute the handler set without copying them.
    """
    if type(response) is Response:
        response.__class__ = _RecordingResponse
    return response


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


async def _sign_in_holds(scope: Scope, sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Whether the bearer token's sign-in still holds (core.auth's per-request check), before a replay."""
    state = scope["app"].state
    check: SessionCheck | None = state.get("session_check")
    if check is None:  # an app without accounts of its own (core used alone): the signature is all there is
        return True
    token = next(value for name, value in scope["headers"] if name == b"authorization").decode("latin-1")
    principal = decode_token(state.settings.auth, token.partition(" ")[2].strip())
    async with transaction(sessionmaker) as session:
        return await check(session, principal)


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


def _replay_messages(replay: Replay) -> list[Message]:
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
        lease = dt.timedelta(seconds=scope["app"].state.settings.http.idempotency_lease_seconds)
        outcome = await claim(sessionmaker, principal, key, request_fingerprint, lease)
        if isinstance(outcome, Replay) and principal != ANONYMOUS and not await _sign_in_holds(scope, sessionmaker):
            # A signed-out or deactivated token gets no stored answer either: the route's guard answers it (401).
            await self.app(scope, _replaying(received, receive), send)
            return
        if isinstance(outcome, Replay):
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
            held = Held(principal, key, outcome.lease)
            scope.setdefault("state", {})[_SCOPE_KEY] = held
            await self._run(scope, body, receive, send, sessionmaker, held)
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
        held: Held,
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
            if not (held.completed or held.lost):
                await _release_quietly(sessionmaker, held)
            raise
        start = buffered[0] if buffered and buffered[0]["type"] == "http.response.start" else None
        kept = _kept_headers(start["headers"]) if start is not None else None
        if held.completed or held.lost:
            pass  # recorded with the business write, or the key is another attempt's now
        elif start is not None and kept is not None and is_stored(start["status"]) and not passing_through:
            # No business write committed through the session (a refusal, or a handler without one): the result
            # is recorded on its own; a crash before this just lets a retry execute again.
            response_body = b"".join(message["body"] for message in buffered if message["type"] == "http.response.body")
            try:
                await complete(sessionmaker, held, Replay(start["status"], kept, response_body))
            except Exception:
                logger.exception("could not store the result for an idempotency key")
        else:
            await _release_quietly(sessionmaker, held)
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


async def _release_quietly(sessionmaker: async_sessionmaker[AsyncSession], held: Held) -> None:
    try:
        await release(sessionmaker, held)
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
