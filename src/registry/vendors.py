"""Vendors: sign-up with an encrypted, deduplicated ID number, and the reads staff and vendors may make."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.crypto import FieldCipher
from core.db import flush_or_raise
from core.errors import DomainError, FieldError, Forbidden, InvalidInput
from core.pagination import Page, keyset_page
from registry import id_numbers
from registry.access import get_vendor_in_scope, readable_vendors, record_personal_data_access
from registry.accounts import find_account, open_account
from registry.entitlements import age_on
from registry.errors import (
    AlreadyRegistered,
    IdNumberRejected,
    NameRejected,
    OutsideJurisdiction,
    PhoneRejected,
    UsernameTaken,
    VendorExists,
    VendorNotFound,
)
from registry.jurisdictions import STREET_LEVEL_MESSAGE, is_street_level
from registry.models import Jurisdiction, KeyGroupClaim, Vendor
from registry.policies import KeyGroup, registration_rules

__all__ = [
    "ID_NUMBER_CONTEXT",
    "PHONE_CONTEXT",
    "check_may_register",
    "find_vendor_by_id_number",
    "get_own_vendor",
    "get_vendor_in_scope",
    "id_number_lookup_hash",
    "key_groups_by_vendor",
    "list_vendors",
    "read_vendor",
    "register_vendor",
]

# Associated data for AES-GCM: a ciphertext copied into another column will not decrypt.
ID_NUMBER_CONTEXT = "registry_vendor.id_number"
PHONE_CONTEXT = "registry_vendor.phone"
_HMAC_CONTEXT = "id_number"
# The personal fields each read shows, as the access log records them.
DETAIL_FIELDS = ("name", "id_number_masked", "phone_masked")
SUMMARY_FIELDS = ("name", "id_number_masked")

_REJECTIONS: dict[type[id_numbers.InvalidPersonalValue], type[DomainError]] = {
    id_numbers.InvalidIdNumber: IdNumberRejected,
    id_numbers.InvalidName: NameRejected,
    id_numbers.InvalidPhone: PhoneRejected,
}

T = TypeVar("T")


def _checked(rule: Callable[[str], T], raw: str) -> T:
    """Apply a pure rule; its refusal becomes a 422 naming the field with a stable `reason` (never the value)."""
    try:
        return rule(raw)
    except id_numbers.InvalidPersonalValue as exc:
        error = _REJECTIONS[type(exc)]
        raise error(
            f"{exc.field}: {exc.message}", errors=[FieldError(exc.field, exc.message)], reason=exc.reason
        ) from None


def id_number_lookup_hash(cipher: FieldCipher, normalised_id_number: str) -> bytes:
    """The keyed hash stored in id_number_hmac: equal for every spelling of the same person's number."""
    return cipher.lookup_hash(normalised_id_number, context=_HMAC_CONTEXT)


def check_may_register(actor: Principal | None, residence_jurisdiction: str) -> None:
    """Who may open a vendor profile (RELIABILITY.md §5, row 1).

    Anyone signed out signs themselves up; a signed-in vendor already has a profile (409); street-office staff
    register residents of their own jurisdiction on their behalf (others: 422 naming residence_jurisdiction);
    departments and admins have no such function (403).
    """
    if actor is None:
        return
    if actor.role == "vendor":
        raise AlreadyRegistered("Sign out to register someone else; staff register residents on their behalf")
    if actor.role != "street_office":
        raise Forbidden(f"Registering vendors needs no token, or the role street_office; you are {actor.role}")
    if residence_jurisdiction != actor.jurisdiction_code:
        message = "must be your own jurisdiction: staff register only its residents"
        raise OutsideJurisdiction(
            f"residence_jurisdiction: {message}", errors=[FieldError("residence_jurisdiction", message)]
        )


async def register_vendor(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    username: str,
    password: str,
    name: str,
    id_number: str,
    phone: str,
    residence_jurisdiction: str,
    actor: Principal | None = None,
    today: dt.date,
) -> Vendor:
    """Open a vendor account and profile in the caller's transaction; a refusal leaves neither behind.

    `actor` is who is asking: None for a public sign-up, or street-office staff registering a resident.
    The ID number is stored only encrypted, with a keyed hash that makes the same person twice a 409
    `vendor_exists` (checked up front, and by the unique constraint for a concurrent sign-up). A taken
    username is refused before the ID number is looked at, so reusing someone's username reveals nothing
    about an ID number. (With a fresh username, `vendor_exists` still says that person is registered:
    API.md asks for it, and only someone holding the number can ask.)
    """
    check_may_register(actor, residence_jurisdiction)
    clean_name = _checked(id_numbers.normalise_name, name)
    number = _checked(lambda raw: id_numbers.normalise_id_number(raw, today=today), id_number)
    _check_working_age(number, today)
    mobile = _checked(id_numbers.normalise_phone, phone)
    # Only a street or township has a street office to serve the vendor (DOMAIN.md §6.3).
    if not is_street_level(residence_jurisdiction):
        raise InvalidInput.for_field("residence_jurisdiction", STREET_LEVEL_MESSAGE)
    if await session.get(Jurisdiction, residence_jurisdiction) is None:
        raise InvalidInput.for_field("residence_jurisdiction", "no such jurisdiction")
    if await find_account(session, username) is not None:
        raise UsernameTaken()
    lookup = id_number_lookup_hash(cipher, number)
    if await _already_registered(session, lookup):
        raise VendorExists()
    account = await open_account(session, username=username, password=password, role="vendor", with_vendor_profile=True)
    vendor = Vendor(
        id=uuid.uuid4(),
        account_id=account.id,
        name=clean_name,
        id_number_encrypted=cipher.encrypt(number, context=ID_NUMBER_CONTEXT),
        id_number_hmac=lookup,
        id_number_masked=id_numbers.mask_id_number(number),
        birth_on=id_numbers.birth_date(number),
        sex=id_numbers.sex(number),
        phone_encrypted=cipher.encrypt(mobile, context=PHONE_CONTEXT),
        phone_masked=id_numbers.mask_phone(mobile),
        residence_jurisdiction_code=residence_jurisdiction,
    )
    session.add(vendor)
    await flush_or_raise(
        session, {"uq_registry_vendor_id_number_hmac": VendorExists, "uq_registry_vendor_account_id": VendorExists}
    )
    await session.refresh(vendor, ["created_at"])
    return vendor


def _check_working_age(number: str, today: dt.date) -> None:
    """Only a person of working age may register to work for themselves (the minimum age is policy data)."""
    minimum = registration_rules().minimum_age
    if age_on(id_numbers.birth_date(number), today) < minimum:
        message = f"the holder must be at least {minimum} years old (working age) to register"
        raise IdNumberRejected(
            f"id_number: {message}", errors=[FieldError("id_number", message)], reason="under_working_age"
        )


async def _already_registered(session: AsyncSession, lookup: bytes) -> bool:
    return await session.scalar(select(Vendor.id).where(Vendor.id_number_hmac == lookup)) is not None


async def find_vendor_by_id_number(
    session: AsyncSession, cipher: FieldCipher, id_number: str, *, today: dt.date
) -> Vendor | None:
    """The vendor holding this ID number in any spelling (fullwidth, lower-case x), or None."""
    number = _checked(lambda raw: id_numbers.normalise_id_number(raw, today=today), id_number)
    lookup = id_number_lookup_hash(cipher, number)
    result = await session.scalars(select(Vendor).where(Vendor.id_number_hmac == lookup))
    return result.one_or_none()


async def get_own_vendor(session: AsyncSession, principal: Principal) -> Vendor:
    """The caller's own vendor profile (404 if this account has none)."""
    require_role(principal, "vendor")
    vendor = await session.scalar(select(Vendor).where(Vendor.account_id == principal.account_id))
    if vendor is None:
        raise VendorNotFound("This account has no vendor profile")
    return vendor


async def list_vendors(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None = None,
    request_path: str,
    purpose: str | None = None,
) -> Page[Vendor]:
    """Vendors the caller may list, oldest first: a street office sees its own jurisdiction's residents.

    A staff read of names and masked ID numbers is logged per vendor (PIPL; DOMAIN.md §7.3 item 4).
    """
    require_role(principal, "street_office", "admin")
    page: Page[Vendor] = await keyset_page(
        session,
        select(Vendor).where(readable_vendors(principal)),
        (Vendor.created_at, Vendor.id),
        limit=limit,
        cursor=cursor,
        key=lambda vendor: (vendor.created_at, vendor.id),
    )
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[vendor.id for vendor in page.items],
        fields=SUMMARY_FIELDS,
        purpose=purpose or "case_handling",
        request_path=request_path,
    )
    return page


async def read_vendor(
    session: AsyncSession, principal: Principal, vendor_id: uuid.UUID, *, request_path: str, purpose: str | None = None
) -> Vendor:
    """One vendor in the caller's scope (404 outside it); a staff read is logged as personal-data access."""
    vendor = await get_vendor_in_scope(session, principal, vendor_id)
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[vendor.id],
        fields=DETAIL_FIELDS,
        purpose=purpose or "case_handling",
        request_path=request_path,
    )
    return vendor


async def key_groups_by_vendor(
    session: AsyncSession, vendor_ids: Sequence[uuid.UUID], *, today: dt.date
) -> dict[uuid.UUID, list[KeyGroup]]:
    """Each vendor's key groups backed by a verified claim still valid today (self-declarations never count)."""
    groups: dict[uuid.UUID, list[KeyGroup]] = {vendor_id: [] for vendor_id in vendor_ids}
    if not vendor_ids:
        return groups
    rows = await session.execute(
        select(KeyGroupClaim.vendor_id, KeyGroupClaim.key_group)
        .where(
            KeyGroupClaim.vendor_id.in_(list(vendor_ids)),
            KeyGroupClaim.status == "verified",
            KeyGroupClaim.valid_until >= today,
        )
        .distinct()
        .order_by(KeyGroupClaim.vendor_id, KeyGroupClaim.key_group)
    )
    for vendor_id, key_group in rows:
        groups[vendor_id].append(cast(KeyGroup, key_group))  # the column's CHECK holds it to KEY_GROUPS
    return groups
