"""One access-log line per request, and the request id that ties that line to the response and its problem body.

Every request gets a fresh id (a client-sent `X-Request-ID` is ignored: it could be forged to tie log lines
to someone else's request, or carry text we would then log). The id is returned in `X-Request-ID` and in
every problem document (`request_id`), so a caller quoting it leads an operator to the line.

The line names the method, the route *template* (`/api/v1/vendors/{vendor_id}`, never the raw path,
which holds ids), the status, the duration and the request id: no query string, no client address, no
header values, nothing a person could be found by.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

HEADER = "X-Request-ID"
_HEADER_NAME = HEADER.lower().encode()
_STATE_KEY = "request_id"
# Requests no route matched (404, or 405 before routing): their path is whatever the client typed.
UNMATCHED = "-"
# The id of the request being answered, for log lines written while answering it (core.logs).
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code runs for, or None outside a request (a job, the CLI)."""
    return _CURRENT.get()


def request_id_of(scope: Scope | dict[str, Any]) -> str | None:
    """The id of the request this scope belongs to (None outside the middleware, e.g. in a bare unit test)."""
    state = scope.get("state")
    value = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


# Called with (method, route template, status or None, duration in ms) once each request is answered: the
# metrics (flexreg.metrics) count requests there, so their timing and template are the access line's own.
Observer = Callable[[str, str, int | None, float], None]


class RequestLogMiddleware:
    """Give each HTTP request an id, return it in a header, and log the request once it has been answered.

    It wraps the whole application (outside routing and error rendering), so requests no route matched and
    problems from other middleware are logged and carry the id as well.
    """

    def __init__(self, app: ASGIApp, observe: Observer | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        request_id = next_request_id()
        scope.setdefault("state", {})[_STATE_KEY] = request_id
        header = (_HEADER_NAME, request_id.encode())
        status: int | None = None
        started = time.perf_counter()
        token = _CURRENT.set(request_id)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: prebuilt responses (the catalogue's) share theirs between requests.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _CURRENT.reset(token)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            route = scope.get("path_template") or UNMATCHED
            method = str(scope.get("method", "-"))
            if self.observe is not None:
                self.observe(method, route, status, duration_ms)
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s %s %s %.1fms request_id=%s",
                    method,
                    route,
                    status if status is not None else "-",
                    duration_ms,
                    request_id,
                    # The same facts as fields, for JSON lines (core.logs).
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                        "request_id": request_id,
                    },
                )


# Unique without a system call per request: a random prefix per process, then a counter (ids need not be
# secret, only distinct across workers and restarts; the prefix makes a collision a 2^-64 chance). Shaped
# like a UUID: the hyphens keep any run of digits short, so no id ever looks like an ID number to a scanner.
_PREFIX = secrets.token_hex(8)
_PREFIX_SHAPED = f"{_PREFIX[:8]}-{_PREFIX[8:12]}-{_PREFIX[12:]}"
_COUNTER = itertools.count(1)


def next_request_id() -> str:
    """A fresh request id, UUID-shaped (8-4-4-4-12 hex digits)."""
    count = next(_COUNTER)
    return f"{_PREFIX_SHAPED}-{count >> 48 & 0xFFFF:04x}-{count & 0xFFFFFFFFFFFF:012x}"
