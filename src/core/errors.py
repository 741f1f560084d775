"""Domain errors and their rendering as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any, ClassVar, Self

import msgspec
from asyncpg import PostgresError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.metrics import count_refusal
from core.request_log import request_id_of

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ProblemOut(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document; `code` is the stable word clients branch on."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    # The id in the response's X-Request-ID header and the access log: what a caller quotes when reporting.
    request_id: str | None = None


class DomainError(Exception):
    """A refusal the service expects: rendered as a problem with this class's status, code and title."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "The request cannot be processed"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extras: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extras = extras

    @classmethod
    def for_field(cls, field: str, message: str) -> Self:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class InvalidInput(DomainError):
    status = 422
    code = "validation_failed"
    title = "The request is not valid"


class MalformedRequest(DomainError):
    status = 400
    code = "malformed_request"
    title = "The request could not be read"


class InvalidParameter(DomainError):
    status = 400
    code = "invalid_parameter"
    title = "A parameter is not valid"


class MalformedJson(DomainError):
    status = 400
    code = "malformed_json"
    title = "The request body is not valid JSON"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "The request body has the wrong media type"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = "A valid bearer token is required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="flexreg"'})


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Your role may not do this"


class CsrfRefused(DomainError):
    """A change the console's session cookie authenticates, without proof it came from the console."""

    status = 403
    code = "csrf_refused"
    title = "This change did not come from the console"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "No such resource"


class IdempotencyKeyInProgress(DomainError):
    """Another attempt holds the request's Idempotency-Key (core.idempotency): a retry will see its result."""

    status = 409
    code = "idempotency_key_in_progress"
    title = "A request with this Idempotency-Key is still running"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "The resource has changed since you read it"


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "This decision needs an If-Match header with the resource's ETag"


class RateLimited(DomainError):
    """More requests of one kind than its rate limit allows in the current window (core.rate_limits)."""

    status = 429
    code = "rate_limited"
    title = "Too many requests of this kind; try again after Retry-After"


HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be read"),
    401: ("not_authenticated", "A valid bearer token is required"),
    403: ("forbidden", "Your role may not do this"),
    404: ("not_found", "No such resource"),
    405: ("method_not_allowed", "This method is not allowed here"),
    406: ("not_acceptable", "No acceptable representation"),
    409: ("conflict", "The request conflicts with the current state"),
    413: ("body_too_large", "The request body is too large"),
    415: ("unsupported_media_type", "The request body has the wrong media type"),
    429: ("too_many_requests", "Too many requests"),
    500: ("internal_error", "Something went wrong on our side"),
    503: ("service_unavailable", "The service is busy; try again shortly"),
}


def problem(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extras: dict[str, Any] | None = None,
) -> Response[Any]:
    count_refusal(code, status)
    body: dict[str, Any] = msgspec.to_builtins(
        ProblemOut(
            type=f"/problems/{code}",
            title=title,
            status=status,
            code=code,
            detail=detail,
            # The path only: a query string could carry personal data.
            instance=request.url.path if request is not None else None,
            errors=errors,
            request_id=request_id_of(request.scope) if request is not None else None,
        )
    )
    if extras:
        body.update(msgspec.to_builtins(extras))
    return Response(content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def domain_error_response(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    """A refusal as a problem response, for a handler that answers it instead of raising (its transaction
    then commits: a counted sign-in failure must stay counted)."""
    return domain_error_handler(request, exc)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extras=exc.extras,
    )


_AT_PATH = re.compile(r"\s*-\s*at\s*`\$(?P<path>[^`]*)`\s*$")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")
# msgspec names the rejected value in these ("Invalid enum value 'zzz'"): a problem never repeats input.
_ECHOED_VALUE = re.compile(r"^(?P<reason>Invalid (?:enum )?value)\b.*", re.DOTALL)
_MAX_FIELD = 100


def shown(text: str) -> str:
    """Client-chosen text (a key) as a problem may show it: non-printable characters escaped, length capped."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
    return text if len(text) <= _MAX_FIELD else text[:_MAX_FIELD] + "…"


def field_error_from_msgspec(message: str, prefix: str = "") -> FieldError:
    """Turn msgspec's 'Expected `int`, got `str` - at `$.a[0]`' into a field path and a reason."""
    path = ""
    match = _AT_PATH.search(message)
    if match:
        path = match.group("path").lstrip(".")
        message = message[: match.start()]
    named = _NAMED_FIELD.search(message)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    joint = "" if path.startswith("[") else "."
    field = joint.join(part for part in (prefix, path) if part) or "body"
    return FieldError(field=shown(field), message=_reason(message))


def _reason(message: str) -> str:
    return shown(_ECHOED_VALUE.sub(r"\g<reason>", message.strip()))


def validation_exception_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's parameter validation (query, path, header): name the parameter, never echo the URL."""
    from core.validation import in_words  # core.validation builds on this module

    errors: list[FieldError] = []
    parameters = getattr(request.scope.get("route_handler"), "parsed_fn_signature", None)
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                key = str(item.get("key") or "request")
                raw = str(item.get("message", "is not valid"))
                error = FieldError(field=shown(key), message=_reason(raw))
                parameter = parameters.parameters.get(key) if parameters is not None else None
                if parameter is not None:
                    error = in_words(parameter.annotation, error, raw, path="")
                errors.append(error)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "The request is not valid"
    return problem(
        request,
        status=400,
        code="invalid_parameter",
        title="A parameter is not valid",
        detail=detail,
        errors=errors or None,
    )


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own refusals (no route, wrong method, body too large, unreadable multipart…).

    Their `detail` is not shown: some repeat the request (the URL, a parse error quoting the body), and a
    problem document never echoes what the client sent. The status says what went wrong.
    """
    status = exc.status_code
    code, title = HTTP_CODES.get(status, ("http_error", "The request failed"))
    return problem(request, status=status, code=code, title=title, detail=title, headers=exc.headers)


def unreadable_body_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Invalid UTF-8 or absurdly nested JSON that got past the guard: still a 400, never a 500."""
    return problem(
        request,
        status=400,
        code="malformed_json",
        title="The request body is not valid JSON",
        detail="The body must be UTF-8 JSON nested no deeper than the service allows",
    )


def busy_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """No database connection came free in time: tell the client to retry rather than fail with a 500."""
    logger.warning("database pool exhausted on %s %s", request.method, request.url.path)
    return problem(
        request,
        status=503,
        code="service_unavailable",
        title="The service is busy; try again shortly",
        detail="No database connection was free in time",
        headers={"Retry-After": "1"},
    )


# Database refusals that say "not now", not "never": the server's statement_timeout or lock_timeout cancelled the
# statement (core.db sets both), or a deadlock or serialization failure picked this transaction to abort. The
# request's transaction rolls back and its connection goes back to the pool; a retry may well succeed.
TRANSIENT_SQLSTATES: dict[str, str] = {
    "57014": "A database statement took too long and was cancelled",
    "55P03": "A database lock was not free in time",
    "40P01": "The database resolved a deadlock by aborting this request",
    "40001": "The database could not serialize this request with another",
}


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a PostgreSQL error, raised by asyncpg itself or wrapped by SQLAlchemy."""
    for candidate in (exc, getattr(exc, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A cancelled or aborted statement is a 503 with Retry-After (RELIABILITY.md T-R7); any other a 500."""
    state = sqlstate_of(exc)
    reason = TRANSIENT_SQLSTATES.get(state or "")
    if reason is None:
        return internal_error_handler(request, exc)
    logger.warning("%s (SQLSTATE %s) on %s %s", reason, state, request.method, request.url.path)
    code, title = HTTP_CODES[503]
    return problem(request, status=503, code=code, title=title, detail=reason, headers={"Retry-After": "1"})


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Last resort: log with a reference, answer with nothing internal (no trace, SQL or values)."""
    # The request id when there is one: the caller quotes one number, the access log and this line share it.
    reference = request_id_of(request.scope) or uuid.uuid4().hex
    logger.error(
        "unhandled %s on %s %s [ref %s]", type(exc).__name__, request.method, request.url.path, reference, exc_info=exc
    )
    return problem(
        request,
        status=500,
        code="internal_error",
        title="Something went wrong on our side",
        detail=f"Quote reference {reference} when reporting this",
        extras={"reference": reference},
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_exception_handler,
    HTTPException: http_exception_handler,
    UnicodeDecodeError: unreadable_body_handler,
    RecursionError: unreadable_body_handler,
    PoolTimeout: busy_handler,
    DBAPIError: database_error_handler,
    PostgresError: database_error_handler,
    Exception: internal_error_handler,
}
