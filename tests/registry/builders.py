"""Registry records for tests: add, flush, return the typed row (the caller commits when the app must see it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import uuid
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.crypto import FieldCipher
from core.settings import Settings
from registry import id_numbers, vendors
from registry.models import Account, Document, Jurisdiction, KeyGroupClaim, KeyGroupDecision, Vendor
from tests.builders import DONGCHENG_SQUARE, auth_headers, phone_number
from tests.builders import id_number as random_id_number

PASSWORD = "correct horse battery"  # the password of every account make_account opens
_PASSWORD_HASH = PasswordHasher().hash(PASSWORD)

DEFAULT_DETAILS: dict[str, dict[str, Any]] = {
    "college_graduate": {"graduation_on": "2024-06-30"},
    "laid_off_unemployed": {"registered_unemployed_since": "2024-01-15"},
    "migrant_worker": {"hukou_village_code": "110229100201"},
    "employment_difficulty": {"category": "zero_employment_family", "since": "2024-01-15"},
}


def jurisdiction_code() -> str:
    """A random 12-digit street-level code under Dongcheng (110101, street 001-099)."""
    return f"110101{random.randint(1, 99):03d}{random.randint(0, 999):03d}"


async def make_jurisdiction(session: AsyncSession, **overrides: Any) -> Jurisdiction:
    """A street-level jurisdiction over DONGCHENG_SQUARE with a random code."""
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
    """An account with password PASSWORD; street offices need `jurisdiction_code=`, departments `department_code=`."""
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


async def make_vendor(
    session: AsyncSession,
    settings: Settings,
    *,
    residence_jurisdiction_code: str,
    id_number: str | None = None,
    phone: str | None = None,
    account: Account | None = None,
    **overrides: Any,
) -> Vendor:
    """A vendor account and profile, ID number and phone stored as the service stores them.

    Pass `id_number=` / `phone=` for known plaintexts; the account is `vendor.account_id`.
    """
    cipher = FieldCipher(settings.data.data_key)
    number = id_number or random_id_number()
    mobile = phone or phone_number()
    account = account or await make_account(session, "vendor")
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "account_id": account.id,
        "name": "张三",
        "id_number_encrypted": cipher.encrypt(number, context=vendors.ID_NUMBER_CONTEXT),
        "id_number_hmac": vendors.id_number_lookup_hash(cipher, number),
        "id_number_masked": id_numbers.mask_id_number(number),
        "birth_on": id_numbers.birth_date(number),
        "sex": id_numbers.sex(number),
        "phone_encrypted": cipher.encrypt(mobile, context=vendors.PHONE_CONTEXT),
        "phone_masked": id_numbers.mask_phone(mobile),
        "residence_jurisdiction_code": residence_jurisdiction_code,
    }
    fields.update(overrides)
    vendor = Vendor(**fields)
    session.add(vendor)
    await session.flush()
    return vendor


def vendor_headers(settings: Settings, vendor: Vendor) -> dict[str, str]:
    """Bearer headers of the vendor's own account, as a signed-in vendor sends them."""
    return auth_headers(settings, Principal(account_id=vendor.account_id, role="vendor", vendor_id=vendor.id))


async def make_document(session: AsyncSession, *, owner_account_id: uuid.UUID, **overrides: Any) -> Document:
    """An uploaded document's metadata row (no content)."""
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
    vendor: Vendor,
    *,
    group: str = "college_graduate",
    details: dict[str, Any] | None = None,
    status: str = "pending",
    valid_until: dt.date | None = None,
    decided_by: uuid.UUID | None = None,
    **overrides: Any,
) -> KeyGroupClaim:
    """A key-group claim for `vendor` (DEFAULT_DETAILS of its group unless given); a verified or rejected one
    gets its decision row too, by `decided_by` or a new street-office account of the claim's jurisdiction."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "vendor_id": vendor.id,
        "jurisdiction_code": vendor.residence_jurisdiction_code,
        "key_group": group,
        "details": details if details is not None else dict(DEFAULT_DETAILS[group]),
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
