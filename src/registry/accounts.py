"""Accounts and sign-in: the business verbs behind /auth/token and /accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, Role, hash_password, verify_password
from core.db import flush_or_raise
from registry.errors import InvalidCredentials, JurisdictionNotFound, UnknownDepartment, UsernameTaken
from registry.models import Account, Jurisdiction, Vendor


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
    """Open an account; staff are bound to exactly one jurisdiction, reviewers to one department."""
    if role == "street_office":
        if jurisdiction_code is None or await session.get(Jurisdiction, jurisdiction_code) is None:
            raise JurisdictionNotFound(f"Jurisdiction {jurisdiction_code} does not exist")
    else:
        jurisdiction_code = None
    if role == "department":
        if department_code is None or (known_departments is not None and department_code not in known_departments):
            raise UnknownDepartment(f"Department {department_code} is not in the catalogue")
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
    return account


async def find_account(session: AsyncSession, username: str) -> Account | None:
    result = await session.execute(select(Account).where(func.lower(Account.username) == username.lower()))
    return result.scalar_one_or_none()


async def authenticate(session: AsyncSession, *, username: str, password: str) -> Principal:
    """The principal for a correct username and password; the same refusal for every kind of miss."""
    account = await find_account(session, username)
    ok = await verify_password(account.password_hash if account else None, password)
    if account is None or not ok or not account.is_active:
        raise InvalidCredentials()
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.account_id == account.id))
    return principal_for(account, vendor_id)


def principal_for(account: Account, vendor_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        account_id=account.id,
        role=account.role,  # type: ignore[arg-type]
        jurisdiction_code=account.jurisdiction_code,
        department_code=account.department_code,
        vendor_id=vendor_id,
    )
