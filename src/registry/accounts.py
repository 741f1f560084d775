"""Accounts and sign-in: the business verbs behind /auth/token and /accounts."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, hash_password, require_role, verify_password
from core.db import flush_or_raise
from core.errors import FieldError, InvalidInput
from core.pagination import Page, keyset_page
from registry.errors import (
    AccountNotFound,
    InvalidCredentials,
    TooManyLoginAttempts,
    UnknownDepartment,
    UsernameTaken,
)
from registry.jurisdictions import STREET_LEVEL_MESSAGE, is_street_level
from registry.models import Account, Jurisdiction, LoginFailure, Vendor

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 64
USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
USERNAME_WORDS = "may hold only ASCII letters, digits, '_', '.' and '-'"
_USERNAME = re.compile(USERNAME_PATTERN)


def check_password(password: str) -> None:
    """The one password rule, for the API and the command line alike."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        message = f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters long"
        raise InvalidInput.for_field("password", message)


def check_username(username: str) -> None:
    """The one username rule (the API's schema states the same; the command line has only this)."""
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        message = f"must be {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters long"
        raise InvalidInput.for_field("username", message)
    if not _USERNAME.match(username) or not username.isascii():
        raise InvalidInput.for_field("username", USERNAME_WORDS)


def _check_scope(role: Role, jurisdiction_code: str | None, department_code: str | None) -> None:
    """Only staff have a jurisdiction and only reviewers a department: a scope given to any other role is an
    error, not something to drop silently."""
    if role != "street_office" and jurisdiction_code is not None:
        raise InvalidInput.for_field("jurisdiction_code", "is only for street_office accounts")
    if role != "department" and department_code is not None:
        raise InvalidInput.for_field("department_code", "is only for department accounts")


async def open_account(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    jurisdiction_code: str | None = None,
    department_code: str | None = None,
    known_departments: frozenset[str] | None = None,
    with_vendor_profile: bool = False,
) -> Account:
    """Open an account; staff are bound to exactly one street-level jurisdiction, reviewers to one department.

    A vendor account is opened only by signing up (`register_vendor`, which passes `with_vendor_profile`):
    it exists for its profile, so none is ever left without one. A refusal names the field (422) and never
    repeats what was sent.
    """
    if role == "vendor" and not with_vendor_profile:
        message = "vendor accounts are opened by signing up (POST /vendors), which creates the vendor profile too"
        raise InvalidInput.for_field("role", message)
    check_username(username)
    check_password(password)
    _check_scope(role, jurisdiction_code, department_code)
    if role == "street_office":
        await _check_staff_jurisdiction(session, jurisdiction_code)
    unknown = department_code is None or (known_departments is not None and department_code not in known_departments)
    if role == "department" and unknown:
        message = "is not a department in the catalogue (GET /departments lists them)"
        raise UnknownDepartment(f"department_code: {message}", errors=[FieldError("department_code", message)])
    if await find_account(session, username) is not None:
        raise UsernameTaken()
    account = Account(
        id=uuid.uuid4(),
        username=username,
        password_hash=await hash_password(password),
        role=role,
        jurisdiction_code=jurisdiction_code,
        department_code=department_code,
    )
    session.add(account)
    await flush_or_raise(session, {"uq_registry_account_username_lower": UsernameTaken})
    await session.refresh(account, ["is_active", "created_at"])
    return account


async def _check_staff_jurisdiction(session: AsyncSession, code: str | None) -> None:
    """A street office acts in one street or township that exists (DOMAIN.md §6.3), never a whole district."""
    if code is None:
        raise InvalidInput.for_field("jurisdiction_code", "is required for street_office accounts")
    if not (len(code) == 12 and code.isascii() and code.isdigit()):
        raise InvalidInput.for_field("jurisdiction_code", "must be a 12-digit division code")
    if not is_street_level(code):
        raise InvalidInput.for_field("jurisdiction_code", STREET_LEVEL_MESSAGE)
    if await session.get(Jurisdiction, code) is None:
        # The code is 12 ASCII digits by now, safe to repeat; the CLI's operator needs to see which one.
        message = "no such jurisdiction"
        raise InvalidInput(
            f"jurisdiction_code: jurisdiction {code} does not exist", errors=[FieldError("jurisdiction_code", message)]
        )


async def get_account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> Account:
    """One account (admin only)."""
    require_role(principal, "admin")
    account = await session.get(Account, account_id)
    if account is None:
        raise AccountNotFound()
    return account


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    role: Role | None = None,
) -> Page[Account]:
    """Accounts oldest first, optionally of one role (admin only)."""
    require_role(principal, "admin")
    query = select(Account)
    if role is not None:
        query = query.where(Account.role == role)
    return await keyset_page(
        session,
        query,
        (Account.created_at, Account.id),
        limit=limit,
        cursor=cursor,
        key=lambda account: (account.created_at, account.id),
    )


async def find_account(session: AsyncSession, username: str) -> Account | None:
    result = await session.execute(select(Account).where(func.lower(Account.username) == username.lower()))
    return result.scalar_one_or_none()


def _login_window(now: dt.datetime, window_seconds: int) -> tuple[dt.datetime, int]:
    """The fixed window `now` falls in: its start, and the seconds until it ends."""
    start = dt.datetime.fromtimestamp(now.timestamp() - now.timestamp() % window_seconds, dt.UTC)
    # Whole seconds, rounded up: Retry-After must not name a moment inside the window.
    return start, math.ceil((start + dt.timedelta(seconds=window_seconds) - now).total_seconds())


async def sign_in(
    session: AsyncSession, *, username: str, password: str, now: dt.datetime, failure_limit: int, window_seconds: int
) -> Principal | InvalidCredentials:
    """The principal for a correct username and password, or the refusal to answer (the same for every kind
    of miss), with the failure counted in the caller's transaction: the caller answers it without raising,
    so that the count commits.

    A username with `failure_limit` failed sign-ins in the current window is refused (429, raised) even with
    the right password, so guessing cannot go on from many processes or addresses at once.
    """
    window_start, remaining = _login_window(now, window_seconds)
    key = _username_key(username)
    failures = await session.scalar(
        select(LoginFailure.failures).where(LoginFailure.username_key == key, LoginFailure.window_start == window_start)
    )
    if failures is not None and failures >= failure_limit:
        raise TooManyLoginAttempts(headers={"Retry-After": str(remaining)})
    account = await find_account(session, username)
    ok = await verify_password(account.password_hash if account else None, password)
    if account is None or not ok or not account.is_active:
        statement = pg_insert(LoginFailure).values(username_key=key, window_start=window_start, failures=1)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[LoginFailure.username_key, LoginFailure.window_start],
                set_={"failures": LoginFailure.failures + 1},
            )
        )
        return InvalidCredentials()
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.account_id == account.id))
    return principal_for(account, vendor_id)


def _username_key(username: str) -> str:
    return username.lower()[:64]


def principal_for(account: Account, vendor_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        account_id=account.id,
        role=account.role,  # type: ignore[arg-type]
        jurisdiction_code=account.jurisdiction_code,
        department_code=account.department_code,
        vendor_id=vendor_id,
    )
