"""POST /vendors (public sign-up, or staff on a resident's behalf), GET /vendors, /vendors/me and /vendors/{id}.

The full ID number never leaves the service: responses carry the masked form only, and error bodies
name the field and a reason without repeating the value.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, requires
from core.crypto import FieldCipher
from core.deps import CurrentPrincipal, DbSession, OptionalPrincipal
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from registry import vendors as service
from registry.access import record_personal_data_access
from registry.api.accounts import JurisdictionCode, Password, Username
from registry.api.params import Purpose, city_today
from registry.models import Vendor

DETAIL_FIELDS = ("name", "id_number_masked", "phone_masked")
SUMMARY_FIELDS = ("name", "id_number_masked")


class RegisterVendor(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Username
    password: Password
    # Checked after NFKC (at most 50 characters then); the raw bound only keeps absurd inputs out.
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    id_number: Annotated[
        str, msgspec.Meta(min_length=1, max_length=64, description="18-character resident ID number (GB 11643)")
    ]
    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="Mainland mobile, +86 optional")]
    residence_jurisdiction: JurisdictionCode


class VendorOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    id_number_masked: str
    phone_masked: str
    residence_jurisdiction: str
    key_groups: list[str]
    created_at: dt.datetime


class VendorSummaryOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    id_number_masked: str
    residence_jurisdiction: str
    key_groups: list[str]
    created_at: dt.datetime


class VendorPage(msgspec.Struct, kw_only=True):
    items: list[VendorSummaryOut]
    next_cursor: str | None


def _vendor_out(vendor: Vendor, key_groups: list[str]) -> VendorOut:
    return VendorOut(
        id=vendor.id,
        name=vendor.name,
        id_number_masked=vendor.id_number_masked,
        phone_masked=vendor.phone_masked,
        residence_jurisdiction=vendor.residence_jurisdiction_code,
        key_groups=key_groups,
        created_at=vendor.created_at,
    )


class VendorController(Controller):
    path = "/vendors"
    tags = ("vendors",)

    @post(
        "/",
        summary="Sign up as a vendor (no token), or register a resident of your jurisdiction (street office)",
        security=[{}, {"bearer": []}],
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RegisterVendor],
        maybe_principal: OptionalPrincipal,
        session: DbSession,
    ) -> Response[VendorOut]:
        """Without a token: self sign-up. A vendor's token: 409 `already_registered`.

        A street office's token: on behalf of a resident of its jurisdiction (others: 422 `outside_jurisdiction`).
        A department's or admin's token: 403. A bad token: 401.
        """
        cipher: FieldCipher = request.app.state.cipher
        vendor = await service.register_vendor(
            session,
            cipher,
            username=data.username,
            password=data.password,
            name=data.name,
            id_number=data.id_number,
            phone=data.phone,
            residence_jurisdiction=data.residence_jurisdiction,
            actor=maybe_principal,
            today=city_today(request),
        )
        return Response(_vendor_out(vendor, []), status_code=201, headers={"Location": f"/api/v1/vendors/{vendor.id}"})

    @get(
        "/",
        summary="List vendors (street office: its residents; admin: all)",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
    )
    async def list_vendors(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        purpose: Purpose = None,
    ) -> VendorPage:
        after = decode_cursor(cursor, dt.datetime, uuid.UUID) if cursor else None
        rows = await service.list_vendors(session, principal, limit=limit + 1, after=after)
        page = rows[:limit]
        groups = await service.key_groups_by_vendor(session, [v.id for v in page], today=city_today(request))
        await _log_read(session, principal, page, SUMMARY_FIELDS, purpose, request)
        items = [
            VendorSummaryOut(
                id=v.id,
                name=v.name,
                id_number_masked=v.id_number_masked,
                residence_jurisdiction=v.residence_jurisdiction_code,
                key_groups=groups[v.id],
                created_at=v.created_at,
            )
            for v in page
        ]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
        return VendorPage(items=items, next_cursor=next_cursor)

    @get("/me", summary="Your own vendor profile", security=[{"bearer": []}], guards=[requires("vendor")])
    async def me(self, request: Request[Any, Any, Any], principal: CurrentPrincipal, session: DbSession) -> VendorOut:
        vendor = await service.get_own_vendor(session, principal)
        groups = await service.key_groups_by_vendor(session, [vendor.id], today=city_today(request))
        return _vendor_out(vendor, groups[vendor.id])

    @get(
        "/{vendor_id:uuid}",
        summary="One vendor (the vendor, street office of their residence, admin)",
        security=[{"bearer": []}],
        guards=[requires("vendor", "street_office", "admin")],
    )
    async def get_vendor(
        self,
        request: Request[Any, Any, Any],
        vendor_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        purpose: Purpose = None,
    ) -> VendorOut:
        vendor = await service.get_vendor_in_scope(session, principal, vendor_id)
        await _log_read(session, principal, [vendor], DETAIL_FIELDS, purpose, request)
        groups = await service.key_groups_by_vendor(session, [vendor.id], today=city_today(request))
        return _vendor_out(vendor, groups[vendor.id])


async def _log_read(
    session: AsyncSession,
    principal: Principal,
    vendors: list[Vendor],
    fields: tuple[str, ...],
    purpose: str | None,
    request: Request[Any, Any, Any],
) -> None:
    """Staff and admin reads of personal data are logged (PIPL; DOMAIN.md §7.3 item 4); a vendor's own are not."""
    await record_personal_data_access(
        session,
        principal=principal,
        vendor_ids=[vendor.id for vendor in vendors],
        fields=fields,
        purpose=purpose or "case_handling",
        request_path=request.url.path,
    )
