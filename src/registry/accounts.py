"""Accounts and sign-in: the business verbs behind /auth/token and /accounts."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import Principal, Role, hash_password, require_role, verify_password
from core.db import flush_or_raise, transaction
from core.errors import FieldError, InvalidInput
from core.pagination import Page, keyset_page
from core.settings import AuthSettings
from registry import sessions, throttle
from registry.errors import (
    AccountNotFound,
    CannotDeactivateSelf,
    InvalidCredentials,
    UnknownDepartment,
    UsernameTaken,
    WrongCurrentPassword,
)
from registry.jurisdictions import STREET_LEVEL_MESSAGE, is_street_level
from registry.models import Account, AccountEventKind, Jurisdiction, Vendor

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
    # Usernames are ASCII (USERNAME_PATTERN). Anything else names nobody: PostgreSQL's lower() would fold some of
    # it onto an account ('İ' → 'i') under another throttle key than Python's, a fresh guessing budget per variant.
    if not username.isascii():
        return None
    result = await session.execute(select(Account).where(func.lower(Account.username) == username.lower()))
    return result.scalar_one_or_none()


async def sign_in(
    session: AsyncSession,
    settings: AuthSettings,
    *,
    attempts: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    client: str,
    now: dt.datetime,
) -> Principal | InvalidCredentials:
    """The principal for a correct username and password, or the refusal to answer (the same for every kind
    of miss), with the failure counted in the caller's transaction: the caller answers it without raising,
    so that the count commits.

    Throttled per username and client address (registry.throttle): an attempt it holds back is refused (429,
    raised) before the password is looked at. The attempt is counted, and the account read, in a short
    transaction of `attempts` committed first; the password is then checked with no transaction open (argon2
    takes tens of milliseconds a guess, which no connection or lock should wait on), and `session`'s
    transaction begins after it, reading the account again under a share lock: a password change or
    deactivation that committed meanwhile refuses this sign-in, and one still to commit waits for it (and so
    ends the sign-in opened here).
    """
    async with transaction(attempts) as counting:
        await throttle.claim_attempt(counting, settings, username=username, client=client, now=now)
        checked = await find_account(counting, username)
    ok = await verify_password(checked.password_hash if checked else None, password)
    account = None
    if checked is not None and ok:
        account = await session.scalar(
            select(Account)
            .where(Account.id == checked.id, Account.password_hash == checked.password_hash, Account.is_active)
            .with_for_update(read=True)
        )
    if account is None:
        await throttle.record_failure(session, settings, username=username, now=now)
        return InvalidCredentials()
    await throttle.record_success(session, username=username, client=client)
    vendor_id = await session.scalar(select(Vendor.id).where(Vendor.account_id == account.id))
    return principal_for(account, vendor_id)


async def set_active(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, *, active: bool, now: dt.datetime
) -> Account:
    """Deactivate or reactivate an account (admin only), recorded with who did it. Deactivating ends every
    sign-in of the account at once; reactivating revives none of them (its owner signs in again)."""
    require_role(principal, "admin")
    # FOR NO KEY UPDATE: no key changes, so rows that only refer to the account (the access log's, appended while
    # its chain's lock is held) do not wait behind this.
    account = await session.scalar(select(Account).where(Account.id == account_id).with_for_update(key_share=True))
    if account is None:
        raise AccountNotFound()
    if not active and account.id == principal.account_id:
        raise CannotDeactivateSelf()
    if account.is_active == active:
        return account
    account.is_active = active
    if not active:
        await sessions.end_all_tokens(session, account.id, now=now, reason="account_deactivated")
    event: AccountEventKind = "reactivated" if active else "deactivated"
    await sessions.record_event(session, account.id, event, actor=principal, now=now)  # flushes the change too
    return account


async def change_password(
    session: AsyncSession,
    settings: AuthSettings,
    principal: Principal,
    *,
    attempts: async_sessionmaker[AsyncSession],
    current_password: str,
    new_password: str,
    client: str,
    now: dt.datetime,
) -> WrongCurrentPassword | None:
    """Change the caller's own password; every other sign-in of the account ends. A wrong current password is
    throttled like a failed sign-in (a stolen token must not become a way to guess it) and returned, not raised,
    so its count commits."""
    check_password(new_password)
    username = await session.scalar(select(Account.username).where(Account.id == principal.account_id))
    if username is None:
        raise AccountNotFound()
    # A count of its own per address: guessing here must not delay the owner's sign-ins from the same address.
    # Counted like a sign-in's, in a transaction (and connection) of its own (registry.throttle.claim_attempt),
    # before the account's row is locked: a burst of changes must not hold row locks while it waits for a
    # second pooled connection. The current password is then checked inside the request's transaction, holding
    # the account's row (FOR NO KEY UPDATE, see set_active): two changes at once must not both win.
    guesser = f"password-change {client}"
    async with transaction(attempts) as counting:
        await throttle.claim_attempt(counting, settings, username=username, client=guesser, now=now)
    account = await session.scalar(
        select(Account).where(Account.id == principal.account_id).with_for_update(key_share=True)
    )
    if account is None:
        raise AccountNotFound()
    if not await verify_password(account.password_hash, current_password):
        await throttle.record_failure(session, settings, username=account.username, now=now)
        return WrongCurrentPassword(errors=[FieldError("current_password", "is not the account's password")])
    await throttle.record_success(session, username=account.username, client=guesser)
    account.password_hash = await hash_password(new_password)
    await sessions.end_all_tokens(session, account.id, now=now, reason="password_changed", keep=principal.session_id)
    await sessions.record_event(session, account.id, "password_changed", actor=principal, now=now)
    return None


def principal_for(account: Account, vendor_id: uuid.UUID | None = None) -> Principal:
    return Principal(
        account_id=account.id,
        role=account.role,  # type: ignore[arg-type]
        jurisdiction_code=account.jurisdiction_code,
        department_code=account.department_code,
        vendor_id=vendor_id,
    )
