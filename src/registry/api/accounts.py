"""POST /auth/token and /accounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath, JSONBody, QueryParameter

from core.auth import Role, issue_token, requires
from core.deps import CurrentPrincipal, DbSession
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from core.settings import Settings
from registry import accounts as service
from registry.catalogue import load_catalogue
from registry.errors import InvalidCredentials

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
JurisdictionCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{12}$", description="12-digit division code")]
DepartmentCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{2,32}$")]


class RequestToken(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class TokenOut(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    role: Role


class OpenAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Username
    password: Password
    role: Role
    jurisdiction_code: JurisdictionCode | None = None
    department_code: DepartmentCode | None = None

    def __post_init__(self) -> None:
        if self.role == "street_office" and self.jurisdiction_code is None:
            raise ValueError("jurisdiction_code is required for street_office accounts")
        if self.role == "department" and self.department_code is None:
            raise ValueError("department_code is required for department accounts")
        if self.role != "street_office" and self.jurisdiction_code is not None:
            raise ValueError("jurisdiction_code is only for street_office accounts")
        if self.role != "department" and self.department_code is not None:
            raise ValueError("department_code is only for department accounts")


class AccountOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    username: str
    role: Role
    jurisdiction_code: str | None
    department_code: str | None
    is_active: bool
    created_at: dt.datetime


class AccountPage(msgspec.Struct, kw_only=True):
    items: list[AccountOut]
    next_cursor: str | None


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    # no-store: RFC 6749 §5.1, and it keeps tokens out of caches and the idempotency table.
    @post(
        "/token",
        status_code=200,
        summary="Exchange username and password for a bearer token",
        cache_control=CacheControlHeader(no_store=True),
    )
    async def request_token(
        self, request: Request[Any, Any, Any], data: JSONBody[RequestToken], session: DbSession
    ) -> TokenOut:
        settings: Settings = request.app.state.settings
        now = settings.now()
        window = settings.auth.login_window_seconds
        try:
            principal = await service.authenticate(
                session,
                username=data.username,
                password=data.password,
                now=now,
                failure_limit=settings.auth.login_failure_limit,
                window_seconds=window,
            )
        except InvalidCredentials:
            # The refusal must count although the request fails (which rolls its transaction back).
            await service.record_login_failure(session, username=data.username, now=now, window_seconds=window)
            await session.commit()
            raise
        return TokenOut(
            access_token=issue_token(settings.auth, principal),
            token_type="bearer",  # noqa: S106 (the scheme name, not a secret)
            expires_in=settings.auth.token_ttl_seconds,
            role=principal.role,
        )


class AccountController(Controller):
    path = "/accounts"
    tags = ["auth"]
    security = [{"bearer": []}]

    guards = [requires("admin")]

    @post("/", summary="Open an account (admin)")
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

    @get("/", summary="List accounts, oldest first (admin)")
    async def list_accounts(
        self,
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        role: Annotated[Role | None, QueryParameter(description="Only accounts with this role")] = None,
    ) -> AccountPage:
        after = decode_cursor(cursor, dt.datetime, uuid.UUID) if cursor else None
        rows = await service.list_accounts(
            session, principal, limit=limit + 1, after=(after[0], after[1]) if after else None, role=role
        )
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
        return AccountPage(
            items=[msgspec.convert(row, AccountOut, from_attributes=True) for row in page], next_cursor=next_cursor
        )

    @get("/{account_id:uuid}", summary="One account (admin)")
    async def get_account(
        self, account_id: FromPath[uuid.UUID], principal: CurrentPrincipal, session: DbSession
    ) -> AccountOut:
        account = await service.get_account(session, principal, account_id)
        return msgspec.convert(account, AccountOut, from_attributes=True)
