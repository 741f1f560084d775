"""/auth (sign-in, refresh, sign-out, password) and /accounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import CacheControlHeader
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference, RequestBody
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import Principal, Role, StaffRole, authenticated, issue_token, requires
from core.client_address import client_address
from core.deps import CurrentPrincipal, DbSession
from core.errors import domain_error_response
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import matching
from registry import accounts as service
from registry import sessions
from registry.api.params import JurisdictionCode
from registry.catalogue import load_catalogue

__all__ = ["JurisdictionCode"]
from core.openapi import PROBLEMS_OPT
from registry.errors import (
    AccountNotFound,
    CannotDeactivateSelf,
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    TooManyLoginAttempts,
    UnknownDepartment,
    UsernameTaken,
    WrongCurrentPassword,
)

Username = Annotated[
    str,
    matching(
        service.USERNAME_PATTERN,
        service.USERNAME_WORDS,
        min_length=service.USERNAME_MIN_LENGTH,
        max_length=service.USERNAME_MAX_LENGTH,
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=service.PASSWORD_MIN_LENGTH, max_length=service.PASSWORD_MAX_LENGTH)]
DepartmentCode = Annotated[
    str, matching(r"^[a-z_]{2,32}$", "must be a department code: 2 to 32 lower-case letters or '_'")
]


class RequestToken(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class SignOut(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Every sign-in of the account, not only this one (a lost phone, a shared computer).
    everywhere: bool = False


class ChangePassword(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    new_password: Password


class AccountChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # false deactivates (every token of the account stops working at once), true reactivates.
    is_active: bool | None = None


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    role: Role
    # Good once, for POST /auth/refresh: it returns a new pair, and this one is spent.
    refresh_token: str
    refresh_expires_in: int


_SIGN_IN_POLICY = (
    " Sign-in is throttled per username and client address (defaults shown; the client address is the peer's, "
    "or what trusted proxies forward): after 3 failures from one address, each further "
    "attempt from it must wait 2^(n-3) seconds after the last failure (at most 15 minutes), and an attempt made "
    "sooner is refused with 429 `too_many_login_attempts` and a Retry-After naming the wait, without the "
    "password being looked at; a success from that address resets it. Across all addresses, after 100 "
    "failures for one username in 15 minutes, addresses that have failed for it are refused until the "
    "window ends, while an address with no failure for it may still try: no one can lock the owner out."
)


def _token_pair(settings: Settings, principal: Principal, refresh_token: str) -> TokenOut:
    return TokenOut(
        access_token=issue_token(settings.auth, principal),
        token_type="bearer",  # noqa: S106 (the scheme name, not a secret)
        expires_in=settings.auth.token_ttl_seconds,
        role=principal.role,
        refresh_token=refresh_token,
        refresh_expires_in=settings.auth.refresh_ttl_seconds,
    )


class OpenAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A staff or admin account. Vendors are not opened here: signing up (POST /vendors) opens the account
    together with the vendor profile, so no vendor account is ever left without one."""

    username: Username
    password: Password
    role: StaffRole
    jurisdiction_code: JurisdictionCode | None = None
    department_code: DepartmentCode | None = None

    def __post_init__(self) -> None:
        if self.role == "street_office" and self.jurisdiction_code is None:
            raise ValueError("jurisdiction_code: is required for street_office accounts")
        if self.role == "department" and self.department_code is None:
            raise ValueError("department_code: is required for department accounts")
        if self.role != "street_office" and self.jurisdiction_code is not None:
            raise ValueError("jurisdiction_code: is only for street_office accounts")
        if self.role != "department" and self.department_code is not None:
            raise ValueError("department_code: is only for department accounts")


class AccountOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    username: str
    role: Role
    jurisdiction_code: str | None
    department_code: str | None
    is_active: bool
    created_at: dt.datetime


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    # no-store: RFC 6749 §5.1, and it keeps tokens out of caches and the idempotency table.
    @post(
        "/token",
        operation_id="requestToken",
        status_code=200,
        summary="Exchange username and password for a bearer token",
        cache_control=CacheControlHeader(no_store=True),
        description=(
            "Anyone. Exchanges a username and password for a short-lived bearer token (`Authorization: Bearer "
            "<token>`), valid for `expires_in` seconds, a `refresh_token` (good once, for `refresh_expires_in` "
            "seconds) to get the next pair from POST /auth/refresh, and names the account's role. A wrong "
            "username and a wrong password are refused alike (401 `invalid_credentials`), so accounts cannot be "
            "probed." + _SIGN_IN_POLICY
        ),
        opt={PROBLEMS_OPT: (InvalidCredentials, TooManyLoginAttempts)},
    )
    async def request_token(
        self, request: Request[Any, Any, Any], data: JSONBody[RequestToken], session: DbSession
    ) -> Response[TokenOut]:
        settings: Settings = request.app.state.settings
        now = settings.now()
        outcome = await service.sign_in(
            session,
            settings.auth,
            attempts=request.app.state.sessionmaker,
            username=data.username,
            password=data.password,
            client=client_address(request.scope, settings.http.trusted_proxies),
            now=now,
        )
        if isinstance(outcome, InvalidCredentials):
            # A refusal answered, not raised: the failure it counted commits with this request's transaction.
            return domain_error_response(request, outcome)
        principal, refresh_token = await sessions.open_api_session(
            session, outcome, now=now, ttl_seconds=settings.auth.refresh_ttl_seconds
        )
        return Response(_token_pair(settings, principal, refresh_token))

    @post(
        "/refresh",
        operation_id="refreshToken",
        status_code=200,
        summary="Exchange a refresh token for a new token pair",
        cache_control=CacheControlHeader(no_store=True),
        description=(
            "Anyone holding a refresh token. Spends it and answers as POST /auth/token does, with a new access "
            "token and a NEW refresh token (the one sent is spent). A refresh token is good once: presenting a "
            "spent one again means it was copied, so the whole sign-in it belongs to (every token issued from "
            "it) is revoked (401 `refresh_token_reused`). One retry is forgiven, for a client that lost the "
            "answer: the spent token sent again within a short grace of its spending (30 seconds by default), "
            "while the refresh token that answer held has not been used, is answered with a new pair "
            "and that unseen token is spent instead. Of several requests sending the same token at once, one "
            "spends it and at most one more is taken for that retry; the rest revoke the sign-in, so clients "
            "must not refresh in parallel. An unknown or expired token, or one "
            "whose sign-in ended (signed out, account deactivated, password changed), is 401 "
            "`invalid_refresh_token`: sign in again."
        ),
        opt={PROBLEMS_OPT: (InvalidRefreshToken, RefreshTokenReused)},
    )
    async def refresh_token(
        self, request: Request[Any, Any, Any], data: JSONBody[RefreshRequest], session: DbSession
    ) -> Response[TokenOut]:
        settings: Settings = request.app.state.settings
        outcome = await sessions.rotate(
            session,
            data.refresh_token,
            now=settings.now(),
            ttl_seconds=settings.auth.refresh_ttl_seconds,
            grace_seconds=settings.auth.refresh_reuse_grace_seconds,
        )
        if isinstance(outcome, RefreshTokenReused):
            # Answered, not raised: the family's revocation commits with this request's transaction.
            return domain_error_response(request, outcome)
        principal, refresh_token = outcome
        return Response(_token_pair(settings, principal, refresh_token))

    @post(
        "/sign-out",
        operation_id="signOut",
        status_code=204,
        summary="End this sign-in (or every one)",
        guards=[authenticated],
        security=[{"bearer": []}],
        description=(
            "Any signed-in caller. Ends the sign-in the bearer token belongs to: the token and every refresh "
            'token of that sign-in stop working at once, on every server. With `{"everywhere": true}` every '
            "sign-in of the account ends. The body may be left out."
        ),
    )
    async def sign_out(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        data: JSONBody[SignOut | None] = None,
    ) -> None:
        settings: Settings = request.app.state.settings
        everywhere = data.everywhere if data is not None else False
        await sessions.sign_out(session, principal, now=settings.now(), everywhere=everywhere)

    @post(
        "/password",
        operation_id="changePassword",
        status_code=204,
        summary="Change your own password",
        guards=[authenticated],
        security=[{"bearer": []}],
        description=(
            "Any signed-in caller, for their own account. Needs the `current_password` (422 "
            "`wrong_current_password` otherwise, throttled like a sign-in: 429 `too_many_login_attempts`); the "
            "`new_password` follows the sign-up rule (8 to 128 characters). Every other sign-in of the account "
            "ends at once; this one goes on."
        ),
        opt={PROBLEMS_OPT: (WrongCurrentPassword, TooManyLoginAttempts)},
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChangePassword],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[None]:
        settings: Settings = request.app.state.settings
        refusal = await service.change_password(
            session,
            settings.auth,
            principal,
            attempts=request.app.state.sessionmaker,
            current_password=data.current_password,
            new_password=data.new_password,
            client=client_address(request.scope, settings.http.trusted_proxies),
            now=settings.now(),
        )
        if refusal is not None:
            # Answered, not raised: the failure it counted commits with this request's transaction.
            return domain_error_response(request, refusal)
        return Response(None, status_code=204)


class AccountController(Controller):
    path = "/accounts"
    tags = ["auth"]
    security = [{"bearer": []}]

    guards = [requires("admin")]

    @post(
        "/",
        operation_id="openAccount",
        summary="Open an account (admin)",
        description=(
            "Admins only. Opens an account: a street office is bound to one street-level jurisdiction "
            "(`jurisdiction_code`), a department account to one department (`department_code`). Refuses a "
            "username already in use (409 `username_taken`), an unknown department (422 `unknown_department`), "
            "and a jurisdiction that does not exist or is not street-level (422 `validation_failed`)."
        ),
        opt={PROBLEMS_OPT: (UsernameTaken, UnknownDepartment)},
    )
    async def open_account(self, data: JSONBody[OpenAccount], session: DbSession) -> Response[AccountOut]:
        account = await service.open_account(
            session,
            username=data.username,
            password=data.password,
            role=data.role,
            jurisdiction_code=data.jurisdiction_code,
            department_code=data.department_code,
            known_departments=load_catalogue().department_codes,
        )
        out = msgspec.convert(account, AccountOut, from_attributes=True)
        return Response(out, status_code=201, headers={"Location": f"/api/v1/accounts/{account.id}"})

    @get(
        "/",
        operation_id="listAccounts",
        summary="List accounts, oldest first (admin)",
        description=(
            "Admins only. Accounts, oldest first, a page at a time (`limit`, `cursor` from `next_cursor`), "
            "optionally only those of one `role`."
        ),
    )
    async def list_accounts(
        self,
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        role: Annotated[Role | None, QueryParameter(description="Only accounts with this role")] = None,
    ) -> Page[AccountOut]:
        page = await service.list_accounts(session, principal, limit=limit, cursor=cursor, role=role)
        return page_of([msgspec.convert(row, AccountOut, from_attributes=True) for row in page.items], page)

    @get(
        "/{account_id:uuid}",
        operation_id="getAccount",
        summary="One account (admin)",
        description=("Admins only. One account by id; 404 `account_not_found` when there is none."),
        opt={PROBLEMS_OPT: (AccountNotFound,)},
    )
    async def get_account(
        self, account_id: FromPath[uuid.UUID], principal: CurrentPrincipal, session: DbSession
    ) -> AccountOut:
        account = await service.get_account(session, principal, account_id)
        return msgspec.convert(account, AccountOut, from_attributes=True)

    @patch(
        "/{account_id:uuid}",
        operation_id="amendAccount",
        summary="Deactivate or reactivate an account (admin)",
        description=(
            'Admins only. `{"is_active": false}` deactivates the account: every token and sign-in of it stops '
            "working at once, on every server, and it cannot sign in; `true` reactivates it (its owner signs in "
            "again: no earlier sign-in comes back). Who did it and when is recorded. An admin cannot deactivate "
            "their own account (409 `cannot_deactivate_self`); 404 `account_not_found` when there is none."
        ),
        opt={PROBLEMS_OPT: (AccountNotFound, CannotDeactivateSelf)},
    )
    async def amend_account(
        self,
        request: Request[Any, Any, Any],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[AccountChange],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> AccountOut:
        settings: Settings = request.app.state.settings
        if data.is_active is None:
            account = await service.get_account(session, principal, account_id)
        else:
            account = await service.set_active(
                session, principal, account_id, active=data.is_active, now=settings.now()
            )
        return msgspec.convert(account, AccountOut, from_attributes=True)


def document_sessions(schema: OpenAPI) -> None:
    """What Litestar's schema gets wrong of the session routes: a 204 carries no body, and signing out takes
    an optional one (Litestar states `SignOut | None` as a required body that may be null)."""
    paths = schema.paths or {}
    for path in ("/api/v1/auth/sign-out", "/api/v1/auth/password"):
        operation = paths[path].post
        no_content = (operation.responses or {}).get("204") if operation else None
        if isinstance(no_content, OpenAPIResponse):
            no_content.content = None
    sign_out = paths["/api/v1/auth/sign-out"].post
    body = sign_out.request_body if sign_out else None
    if isinstance(body, RequestBody):
        body.required = False
        body.content = {"application/json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/SignOut"))}
