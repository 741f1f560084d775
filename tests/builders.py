"""Builders shared by every domain's tests: add, flush, return."""

from __future__ import annotations

import random
import uuid
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, issue_token
from core.settings import Settings
from registry.accounts import principal_for
from registry.models import Account, Jurisdiction

PASSWORD = "correct horse battery"
_PASSWORD_HASH = PasswordHasher().hash(PASSWORD)

# A block of Dongcheng district, Beijing (WGS84), and one just east of it.
DONGCHENG_SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[116.40, 39.92], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94], [116.40, 39.92]]],
}
NEIGHBOUR_SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[116.42, 39.92], [116.44, 39.92], [116.44, 39.94], [116.42, 39.94], [116.42, 39.92]]],
}


def jurisdiction_code() -> str:
    """A random 12-digit street-level code under Dongcheng (110101, street 001-099)."""
    return f"110101{random.randint(1, 99):03d}{random.randint(0, 999):03d}"


async def make_jurisdiction(session: AsyncSession, **overrides: Any) -> Jurisdiction:
    fields: dict[str, Any] = {
        "code": jurisdiction_code(),
        "name": "Test street office",
        "boundary": DONGCHENG_SQUARE,
        "min_lon": 116.40,
        "min_lat": 39.92,
        "max_lon": 116.42,
        "max_lat": 39.94,
    }
    fields.update(overrides)
    jurisdiction = Jurisdiction(**fields)
    session.add(jurisdiction)
    await session.flush()
    return jurisdiction


async def make_account(session: AsyncSession, role: str = "vendor", **overrides: Any) -> Account:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "username": f"{role}_{uuid.uuid4().hex[:10]}",
        "password_hash": _PASSWORD_HASH,
        "role": role,
    }
    fields.update(overrides)
    account = Account(**fields)
    session.add(account)
    await session.flush()
    return account


def auth_headers(
    settings: Settings, account: Account | Principal, vendor_id: uuid.UUID | None = None
) -> dict[str, str]:
    principal = account if isinstance(account, Principal) else principal_for(account, vendor_id)
    return {"Authorization": f"Bearer {issue_token(settings.auth, principal)}"}


def id_number(born: Any = None, *, address: str = "110101", male: bool | None = None) -> str:
    """A random valid 18-character ID number (MOD 11-2 check character), born on `born` (a date) if given."""
    import datetime as dt

    from stdnum.cn.ric import calc_check_digit

    if born is None:
        born = dt.date(1960, 1, 1) + dt.timedelta(days=random.randint(0, 40 * 365))
    sequence = random.randint(0, 999)
    if male is not None and sequence % 2 != int(male):
        sequence = (sequence + 1) % 1000
    body = f"{address}{born:%Y%m%d}{sequence:03d}"
    return body + calc_check_digit(body + "0")


def phone_number() -> str:
    return f"13{random.randint(0, 999_999_999):09d}"


async def make_vendor(
    session: AsyncSession, settings: Settings, *, residence_jurisdiction_code: str, **overrides: Any
) -> Any:
    """A vendor account and profile (ID number and phone encrypted as the service stores them); returns the Vendor.

    Pass `id_number=` / `phone=` for known plaintexts; the account is `vendor.account_id`.
    """
    from core.crypto import FieldCipher
    from registry import id_numbers
    from registry.models import Vendor

    cipher = FieldCipher(settings.data.data_key)
    number = overrides.pop("id_number", None) or id_number()
    phone = overrides.pop("phone", None) or phone_number()
    account = overrides.pop("account", None) or await make_account(session, "vendor")
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account.id,
        "name": "张三",
        "id_number_encrypted": cipher.encrypt(number, context="registry_vendor.id_number"),
        "id_number_hmac": cipher.lookup_hash(number, context="id_number"),
        "id_number_masked": id_numbers.mask_id_number(number),
        "birth_on": id_numbers.birth_date(number),
        "sex": id_numbers.sex(number),
        "phone_encrypted": cipher.encrypt(phone, context="registry_vendor.phone"),
        "phone_masked": id_numbers.mask_phone(phone),
        "residence_jurisdiction_code": residence_jurisdiction_code,
    }
    fields.update(overrides)
    vendor = Vendor(**fields)
    session.add(vendor)
    await session.flush()
    return vendor


async def make_document(session: AsyncSession, *, owner_account_id: uuid.UUID, **overrides: Any) -> Any:
    """An uploaded document's metadata row (no content); returns the Document."""
    import hashlib

    from registry.models import Document

    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "owner_account_id": owner_account_id,
        "sha256": hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
        "size": 1234,
        "media_type": "application/pdf",
    }
    fields.update(overrides)
    document = Document(**fields)
    session.add(document)
    await session.flush()
    return document


async def make_claim(
    session: AsyncSession,
    vendor: Any,
    *,
    group: str = "college_graduate",
    details: dict[str, Any] | None = None,
    status: str = "pending",
    valid_until: Any = None,
    decided_by: uuid.UUID | None = None,
    **overrides: Any,
) -> Any:
    """A key-group claim for `vendor`; a verified or rejected one gets its decision row too. Returns the claim."""
    from registry.models import KeyGroupClaim, KeyGroupDecision

    default_details: dict[str, dict[str, Any]] = {
        "college_graduate": {"graduation_on": "2024-06-30"},
        "laid_off_unemployed": {"registered_unemployed_since": "2024-01-15"},
        "migrant_worker": {"hukou_village_code": "110229100201"},
        "employment_difficulty": {"category": "zero_employment_family", "since": "2024-01-15"},
    }
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "vendor_id": vendor.id,
        "jurisdiction_code": vendor.residence_jurisdiction_code,
        "key_group": group,
        "details": details if details is not None else default_details[group],
        "status": status,
        "valid_until": valid_until,
        "version": 1 if status == "pending" else 2,
        "submitted_by": vendor.account_id,
    }
    fields.update(overrides)
    claim = KeyGroupClaim(**fields)
    session.add(claim)
    await session.flush()
    if status != "pending":
        if decided_by is None:
            staff = await make_account(session, "street_office", jurisdiction_code=claim.jurisdiction_code)
            decided_by = staff.id
        session.add(
            KeyGroupDecision(
                claim_id=claim.id,
                decision=status,
                valid_until=valid_until,
                reason=None if status == "verified" else "evidence does not show the status",
                decided_by=decided_by,
            )
        )
        await session.flush()
    return claim
