"""Accounts and sign-in: the business verbs behind /auth/token and /accounts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, hash_password, require_role, verify_password
from core.db import flush_or_raise
from core.errors import FieldError, InvalidInput
from registry.errors import (
    AccountNotFound,
    InvalidCredentials,
    TooManyLoginAttempts,
    UnknownDepartment,
    UsernameTaken,
)
from registry.jurisdictions import STREET_LEVEL_MESSAGE, is_street_level
from registry.models import Account, Jurisdiction, LoginFailure, Vendor


async def open_account(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    jurisdiction_code: str | None = None,
    department_code: str | None = None,
    known_departments: frozenset[str] | None = None,
) -> Account:
    """Open an account; staff are bound to exactly one street-level jurisdiction, reviewers to one department.

    A refusal names the field (422) and never repeats what was sent.
    """
    if role == "street_office":
        await _check_staff_jurisdiction(session, jurisdiction_code)
    else:
        jurisdiction_code = None
    if role == "department":
        if department_code is None or (known_departments is not None and department_code not in known_departments):
            message = "is not a department in the catalogue (GET /departments lists them)"
            raise UnknownDepartment(f"department_code: {message}", errors=[FieldError("department_code", message)])
    else:
        department_code = None
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
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    role: Role | None = None,
) -> list[Account]:
    """Accounts oldest first, optionally of one role (admin only)."""
    require_role(principal, "admin")
    query = select(Account).order_by(Account.created_at, Account.id).limit(limit)
    if role is not None:
        query = query.where(Account.role == role)
    if after is not None:
        query = query.where(tuple_(Account.created_at, Account.id) > tuple_(*after))
    return list((await session.scalars(query)).all())


async def find_account(session: AsyncSession, username: str) -> Account | None:
    result = await session.execute(select(Account).where(func.lower(Account.username) == username.lower()))
    return result.scalar_one_or_none()


def _login_window(now: dt.datetime, window_seconds: int) -> tuple[dt.datetime, int]:
    """The fixed window `now` falls in: its start, and the seconds until it ends."""
    start = dt.datetime.fromtimestamp(now.timestamp() - now.timestamp() % window_seconds, dt.UTC)
    return start, int((start + dt.timedelta(seconds=window_seconds) - now).total_seconds()) + 1


async def authenticate(
    session: AsyncSession, *, username: str, password: str, now: dt.datetime, failure_limit: int, window_seconds: int
) -> Principal:
    """The principal for a correct username and password; the same refusal for every kind of miss.

    A username with `failure_limit` failed sign-ins in the current window is refused (429) even with the right
    password, so guessing cannot go on from many processes or addresses at once.
    """
    window_start, remaining = _login_window(now, window_seconds)
    failures = await session.scalar(
        select(LoginFailure.failures).where(
            LoginFailure.username_key == _username_key(username), LoginFailure.window_start == window_start
        )
    )
    if failures is not None and failures >= failure_limit:
        raise TooManyLoginAttempts(headers={"Retry-After": str(remaining)})
    account = await find_account(session, username)
    ok = await verify_password(account.password_hash if account else None, password)
    if account is None or not ok or not account.is_active:
        raise InvalidCredentials()
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.account_id == account.id))
    return principal_for(account, vendor_id)


async def record_login_failure(session: AsyncSession, *, username: str, now: dt.datetime, window_seconds: int) -> None:
    """Count a failed sign-in for this username in the current window (one upsert)."""
    window_start, _remaining = _login_window(now, window_seconds)
    statement = pg_insert(LoginFailure).values(
        username_key=_username_key(username), window_start=window_start, failures=1
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[LoginFailure.username_key, LoginFailure.window_start],
            set_={"failures": LoginFailure.failures + 1},
        )
    )


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
