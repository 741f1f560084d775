"""Who may see which vendor, and the append-only log of staff reading personal data."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from registry.errors import VendorNotFound
from registry.models import PersonalDataAccess, Vendor


async def get_vendor_in_scope(session: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    """The vendor if the caller may see them: themselves, staff of their residence jurisdiction, or an admin.

    Anyone else with a role that may read vendors gets 404, so existence is not revealed.
    """
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor" and principal.vendor_id != vendor_id:
        raise VendorNotFound()
    vendor = await session.get(Vendor, vendor_id)
    if vendor is None:
        raise VendorNotFound()
    if principal.role == "street_office" and vendor.residence_jurisdiction_code != principal.jurisdiction_code:
        raise VendorNotFound()
    return vendor


async def record_personal_data_access(
    session: AsyncSession,
    *,
    principal: Principal,
    vendor_ids: Sequence[uuid.UUID],
    fields: Sequence[str],
    purpose: str,
    request_path: str,
) -> None:
    """Append a row per vendor saying which staff member read which of their personal fields, and why.

    One statement for a whole page of vendors. A vendor reading their own record is not logged; every
    other role is.
    """
    unique_ids = list(dict.fromkeys(vendor_ids))
    if principal.role == "vendor" or not unique_ids:
        return
    await session.execute(
        insert(PersonalDataAccess),
        [
            {
                "account_id": principal.account_id,
                "role": principal.role,
                "vendor_id": vendor_id,
                "fields": list(fields),
                "purpose": purpose,
                "request_path": request_path,
            }
            for vendor_id in unique_ids
        ],
    )
