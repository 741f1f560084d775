"""Who the caller is: password hashes, signed bearer tokens, and the principal every handler receives."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from typing import Any, Literal, get_args

import jwt
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from core import browser_session
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
        principal = Principal(
            account_id=uuid.UUID(claims["sub"]),
            role=role,
            jurisdiction_code=claims.get("jur"),
            department_code=claims.get("dep"),
            vendor_id=uuid.UUID(vendor_id) if vendor_id else None,
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


def requires(*roles: Role) -> Guard:
    """A route guard: authenticate (401) and check the role (403) before the body is even read."""

    # async: Litestar runs a sync guard in a worker thread, a hop that costs more than the check itself.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        require_role(_authenticate(connection), *(roles or ROLES))

    return guard


authenticated = requires(*ROLES)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller the guard authenticated (or 401)."""
    return _authenticate(connection)


def optional_principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The caller if a token (or the console's session) was sent; a bad token is still a 401."""
    token = _presented_token(connection)
    return None if token is None else decode_token(connection.app.state.settings.auth, token)


def require_role(principal: Principal, *roles: Role) -> None:
    """Deny by default: the caller's role must be one of these (403 otherwise)."""
    if principal.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {principal.role}")
