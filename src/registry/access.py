"""Who may see which vendor, and the chained, append-only log of staff reading personal data."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.chain_queue import QueuedRow
from registry.access_log import Access, append_accesses
from registry.errors import VendorNotFound
from registry.models import KeyGroupClaim, Vendor


def readable_vendors(principal: Principal) -> ColumnElement[bool]:
    """The vendors a caller may see: themselves (vendor), their jurisdiction's residents (street office), all
    (admin). Other roles are refused (403); used by every read of vendors, one and many."""
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor":
        return Vendor.id == principal.vendor_id if principal.vendor_id else false()
    if principal.role == "street_office":
        return Vendor.residence_jurisdiction_code == principal.jurisdiction_code
    return true()


def readable_claims(principal: Principal) -> ColumnElement[bool]:
    """The key-group claims a caller may see: their own (vendor), those made in their jurisdiction (street
    office), all (admin). Other roles are refused (403); used by get, list and decide."""
    require_role(principal, "vendor", "street_office", "admin")
    if principal.role == "vendor":
        return KeyGroupClaim.vendor_id == principal.vendor_id if principal.vendor_id else false()
    if principal.role == "street_office":
        return KeyGroupClaim.jurisdiction_code == principal.jurisdiction_code
    return true()


async def get_vendor_in_scope(session: AsyncSession, principal: Principal, vendor_id: uuid.UUID) -> Vendor:
    """The vendor if the caller may see them (`readable_vendors`); anyone else gets 404, so existence is not
    revealed."""
    vendor = await session.scalar(select(Vendor).where(Vendor.id == vendor_id, readable_vendors(principal)))
    if vendor is None:
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
    request_id: str | None = None,
    at: dt.datetime | None = None,
) -> list[QueuedRow]:
    """Chain a row per vendor saying which staff member read which of their personal fields, and why: queued,
    and written with the transaction's COMMIT (registry.access_log; `core.chain_queue.flush_chains` gives
    them their seqs sooner).

    One statement for a whole page of vendors. A vendor reading their own record is not logged; every
    other role is.
    """
    unique_ids = list(dict.fromkeys(vendor_ids))
    if principal.role == "vendor" or not unique_ids:
        return []
    return await append_accesses(
        session,
        [
            Access(
                account_id=principal.account_id,
                role=principal.role,
                vendor_id=vendor_id,
                fields=tuple(fields),
                purpose=purpose,
                request_path=request_path,
                request_id=request_id,
            )
            for vendor_id in unique_ids
        ],
        at=at,
    )
