"""POST /auth/token and /accounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import Role, StaffRole, issue_token, requires
from core.deps import CurrentPrincipal, DbSession
from core.errors import domain_error_response
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.settings import Settings
from core.text import matching
from registry import accounts as service
from registry.api.params import JurisdictionCode
from registry.catalogue import load_catalogue

__all__ = ["JurisdictionCode"]
from core.openapi import PROBLEMS_OPT
from registry.errors import AccountNotFound, InvalidCredentials, TooManyLoginAttempts, UnknownDepartment, UsernameTaken

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


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    role: Role


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
            "Anyone. Exchanges a username and password for a bearer token (`Authorization: Bearer <token>`), "
            "valid for `expires_in` seconds, and names the account's role. A wrong username and a wrong password "
            "are refused alike (401 `invalid_credentials`), so accounts cannot be probed; after repeated failures"
            " for one username every attempt for it is refused for a while (429 `too_many_login_attempts`, with "
            "Retry-After)."
        ),
        opt={PROBLEMS_OPT: (InvalidCredentials, TooManyLoginAttempts)},
    )
    async def request_token(
        self, request: Request[Any, Any, Any], data: JSONBody[RequestToken], session: DbSession
    ) -> Response[TokenOut]:
        settings: Settings = request.app.state.settings
        outcome = await service.sign_in(
            session,
            username=data.username,
            password=data.password,
            now=settings.now(),
            failure_limit=settings.auth.login_failure_limit,
            window_seconds=settings.auth.login_window_seconds,
        )
        if isinstance(outcome, InvalidCredentials):
            # A refusal answered, not raised: the failure it counted commits with this request's transaction.
            return domain_error_response(request, outcome)
        return Response(
            TokenOut(
                access_token=issue_token(settings.auth, outcome),
                token_type="bearer",  # noqa: S106 (the scheme name, not a secret)
                expires_in=settings.auth.token_ttl_seconds,
                role=outcome.role,
            )
        )


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
