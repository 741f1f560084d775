"""Who the caller is: password hashes, signed bearer tokens, and the principal every handler receives."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal, get_args

import jwt
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard
from sqlalchemy.ext.asyncio import AsyncSession

from core import browser_session
from core.db import transaction
from core.errors import Forbidden, NotAuthenticated
from core.settings import AuthSettings

Role = Literal["vendor", "street_office", "department", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
# The roles an admin opens accounts for; vendors open theirs by signing up, with their profile.
StaffRole = Literal["street_office", "department", "admin"]

_hasher = PasswordHasher()
# Verified when the username is unknown, so a miss costs as much as a hit (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash("flexreg-dummy-password")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller, as the token states it."""

    account_id: uuid.UUID
    role: Role
    jurisdiction_code: str | None = None
    department_code: str | None = None
    vendor_id: uuid.UUID | None = None
    # The sign-in this token belongs to (its refresh family; `sid`): signing out or revoking it ends the token.
    session_id: uuid.UUID | None = None
    # When the token was issued (`iat`, real time, whole seconds); 0 for a principal not read from a token.
    issued_at: int = 0


# Whether a principal's sign-in still holds (account active, session not revoked), asked of the database on
# every authenticated request; the app registers the registry's (registry.sessions.is_live) as state.session_check.
SessionCheck = Callable[[AsyncSession, Principal], Awaitable[bool]]


async def hash_password(password: str) -> str:
    """Argon2id hash, computed off the event loop (it takes tens of milliseconds by design)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def issue_token(settings: AuthSettings, principal: Principal) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(principal.account_id),
        "role": principal.role,
        "iat": now,
        "nbf": now,
        "exp": now + settings.token_ttl_seconds,
        "aud": settings.audience,
        "iss": settings.issuer,
        "jti": uuid.uuid4().hex,
    }
    if principal.jurisdiction_code:
        claims["jur"] = principal.jurisdiction_code
    if principal.department_code:
        claims["dep"] = principal.department_code
    if principal.vendor_id:
        claims["vid"] = str(principal.vendor_id)
    if principal.session_id:
        claims["sid"] = str(principal.session_id)
    return jwt.encode(claims, settings.secret_key, algorithm=settings.algorithm)


_MAX_TOKEN_LENGTH = 4096


def decode_token(settings: AuthSettings, token: str) -> Principal:
    """The token's principal; a token already verified in this process is only checked for expiry again."""
    if len(token) > _MAX_TOKEN_LENGTH:
        raise NotAuthenticated("The token is too long")
    principal, expires_at = _verified(settings, token)
    if time.time() > expires_at + settings.leeway_seconds:
        raise NotAuthenticated("The token has expired")
    return principal


# Phones reuse one token for many requests; verifying it once per process (bounded, keyed by the exact token
# text and the settings) saves the JWT library's parsing, a sixth of a write request's CPU here.
@functools.lru_cache(maxsize=4096)
def _verified(settings: AuthSettings, token: str) -> tuple[Principal, float]:
    """Check signature, algorithm, audience, issuer and times; every claim we rely on must be present."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        role = claims.get("role")
        if role not in ROLES:
            raise NotAuthenticated("The token names no known role")
        vendor_id = claims.get("vid")
        session_id = claims.get("sid")
        principal = Principal(
            account_id=uuid.UUID(claims["sub"]),
            role=role,
            jurisdiction_code=claims.get("jur"),
            department_code=claims.get("dep"),
            vendor_id=uuid.UUID(vendor_id) if vendor_id else None,
            session_id=uuid.UUID(session_id) if session_id else None,
            issued_at=int(claims["iat"]),
        )
        return principal, float(claims["exp"])
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("The token has expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        raise NotAuthenticated("The token is not valid") from None


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Use the Authorization: Bearer <token> scheme")
    return token.strip()


def _presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer token, else the console's session cookie (core.browser_session), CSRF-checked for changes.

    A request with an Authorization header is judged by it alone: a cookie never rescues a bad bearer token.
    """
    token = bearer_token(connection)
    if token is not None:
        return token
    token = browser_session.session_token(connection)
    if token is not None and connection.scope.get("method", "GET") not in browser_session.SAFE_METHODS:
        sent = connection.headers.get(browser_session.CSRF_HEADER)
        browser_session.check_csrf(connection, connection.app.state.settings.auth.secret_key, token, sent)
    return token


def _authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal | None = connection.state.get("principal")
    if principal is None:
        token = _presented_token(connection)
        if token is None:
            raise NotAuthenticated()
        principal = decode_token(connection.app.state.settings.auth, token)
        connection.state["principal"] = principal
    return principal


# The signature proves who issued a token, not that its sign-in still holds: an account deactivated, a password
# changed or a session signed out must end its tokens at once on every process (ASVS 8.3.2), so every
# authenticated request asks the database (state.session_check: one indexed query). The check runs on the
# request's own session when the handler opens one (provide_session calls `check_pending`), else here in the
# guard on a session of its own; a request is checked once however many guards and providers ask.
_PENDING = "principal_unchecked"
_CHECKED = "principal_checked"
_TAKES = "takes_"
OPTIONAL_PRINCIPAL_DEPENDENCY = "maybe_principal"
SESSION_DEPENDENCY = "session"


def _takes(handler: BaseRouteHandler, dependency: str) -> bool:
    """Whether the handler's dependencies (its own and theirs, transitively) include `dependency`."""
    key = f"{_TAKES}{dependency}"
    cached = handler.opt.get(key)
    if cached is None:
        providers = handler.resolve_dependencies()
        pending, seen, cached = list(handler.parsed_fn_signature.parameters), set(), False
        while pending:
            name = pending.pop()
            if name == dependency:
                cached = True
                break
            if name in seen or name not in providers:
                continue
            seen.add(name)
            pending.extend(inspect.signature(providers[name].dependency).parameters)
        handler.opt[key] = cached
    return bool(cached)


def _takes_session(handler: BaseRouteHandler) -> bool:
    return _takes(handler, SESSION_DEPENDENCY)


async def _check_live(
    connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession, principal: Principal
) -> None:
    check: SessionCheck = connection.app.state.session_check
    if not await check(session, principal):
        raise NotAuthenticated("This sign-in has ended (signed out, account deactivated or password changed)")
    connection.state[_CHECKED] = True


async def check_pending(connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession) -> None:
    """Run the check a guard left for the request's session (called by the session provider, first thing)."""
    principal: Principal | None = connection.state.pop(_PENDING, None)
    if principal is None and not connection.state.get(_CHECKED):
        # A route with no guard that takes the optional caller: checked here too, before the session is handed
        # out. A refusal raised by a later dependency would leave this session to the garbage collector (Litestar
        # 2 closes generator dependencies only once all of them resolved), rolled back at some later moment.
        handler = connection.scope.get("route_handler")
        optional = handler is not None and _takes(handler, OPTIONAL_PRINCIPAL_DEPENDENCY)
        if optional and _presented_token(connection) is not None:
            principal = _authenticate(connection)
    if principal is not None:
        await _check_live(connection, session, principal)


async def live_principal(connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession) -> Principal:
    """The authenticated caller, their sign-in checked on `session` unless it was already (or 401)."""
    principal = _authenticate(connection)
    if not connection.state.get(_CHECKED):
        connection.state.pop(_PENDING, None)
        await _check_live(connection, session, principal)
    return principal


async def live_optional_principal(
    connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession
) -> Principal | None:
    """The caller if a token (or the console's session) was sent and its sign-in holds; a bad one is a 401."""
    if _presented_token(connection) is None:
        return None
    return await live_principal(connection, session)


def requires(*roles: Role) -> Guard:
    """A route guard: authenticate (401) and check the role (403) before the body is even read.

    The database's word on the sign-in comes before the body too when the handler opens no session; when it
    does, the check runs first thing on that session, after the body is read.
    """

    # async: Litestar runs a sync guard in a worker thread, a hop that costs more than the check itself.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        principal = _authenticate(connection)
        if principal.role not in (roles or ROLES) and not connection.state.get(_CHECKED):
            # A refusal costs a transaction of its own: an ended sign-in is told so (401), not its old role's 403.
            async with transaction(connection.app.state.sessionmaker) as session:
                await _check_live(connection, session, principal)
        require_role(principal, *(roles or ROLES))
        if connection.state.get(_CHECKED) or connection.state.get(_PENDING):
            return
        if _takes_session(handler):
            connection.state[_PENDING] = principal
            return
        async with transaction(connection.app.state.sessionmaker) as session:
            await _check_live(connection, session, principal)

    return guard


authenticated = requires(*ROLES)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller the guard authenticated (or 401); their sign-in is checked by the guard or `live_principal`."""
    return _authenticate(connection)


def optional_principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller if a token (or the console's session) was sent; a bad token is still a 401 (signature and
    expiry only: `live_optional_principal` also asks the database)."""
    token = _presented_token(connection)
    return None if token is None else decode_token(connection.app.state.settings.auth, token)


def require_role(principal: Principal, *roles: Role) -> None:
    """Deny by default: the caller's role must be one of these (403 otherwise)."""
    if principal.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {principal.role}")
