"""Staff revealing a vendor's full ID number: the one way it leaves the service, each time logged with why.

Only the street office of the vendor's residence jurisdiction may (others in that role: 404, as for any vendor
out of their scope); vendors, departments and admins may not (403: an admin does not handle cases, RELIABILITY.md
§5 separation of duties). The reveal and its chained access-log row are one transaction: no number is shown
that the log does not hold.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, require_role
from core.chain_queue import flush_chains
from core.crypto import FieldCipher
from core.errors import InvalidInput
from registry.access import get_vendor_in_scope, record_personal_data_access
from registry.id_numbers import holds_id_number
from registry.vendors import ID_NUMBER_CONTEXT

REVEALED_FIELDS: Final = ("id_number",)


class Reveal(msgspec.Struct, frozen=True, kw_only=True):
    vendor_id: uuid.UUID
    id_number: str
    revealed_at: dt.datetime
    access_seq: int


async def reveal_id_number(
    session: AsyncSession,
    cipher: FieldCipher,
    principal: Principal,
    vendor_id: uuid.UUID,
    *,
    purpose: str,
    request_path: str,
    request_id: str | None,
    now: dt.datetime,
) -> Reveal:
    require_role(principal, "street_office")
    stated = purpose.strip()
    if not stated:
        raise InvalidInput.for_field("purpose", "must say why the full ID number is needed (not only spaces)")
    if holds_id_number(stated):
        # The access log keeps the purpose for years: it must never hold an ID number (T-L6).
        raise InvalidInput.for_field("purpose", "must not hold an ID number: name the case instead")
    vendor = await get_vendor_in_scope(session, principal, vendor_id)
    number = cipher.decrypt(vendor.id_number_encrypted, context=ID_NUMBER_CONTEXT)
    [logged] = await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[vendor.id],
        fields=REVEALED_FIELDS,
        purpose=stated,
        request_path=request_path,
        request_id=request_id,
        at=now,
    )
    # The answer names the log row, so it is written now, and the log's lock held to the commit: a reveal is
    # rare, and the price of saying which row holds it.
    await flush_chains(session)
    return Reveal(vendor_id=vendor.id, id_number=number, revealed_at=now, access_seq=logged.seq)
