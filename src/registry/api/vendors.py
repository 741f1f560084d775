"""POST /vendors (public sign-up, or staff on a resident's behalf), GET /vendors, /vendors/me and /vendors/{id},
and POST /vendors/{id}/id-number-reveals (a street office seeing the full ID number, logged).

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

from core.auth import requires
from core.crypto import FieldCipher
from core.deps import CurrentPrincipal, DbSession, OptionalPrincipal
from core.openapi import PROBLEMS_OPT
from core.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, page_of
from core.request_log import request_id_of
from core.settings import Settings
from registry import reveals
from registry import vendors as service
from registry.api.accounts import JurisdictionCode, Password, Username
from registry.api.params import Purpose, city_today
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
from registry.models import Vendor
from registry.policies import KeyGroup


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


class RevealIdNumber(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    purpose: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=200,
            description="Why the full number is needed (a case reference or purpose); written to the access log",
        ),
    ]


class IdNumberRevealOut(msgspec.Struct, kw_only=True):
    vendor_id: uuid.UUID
    id_number: str
    revealed_at: dt.datetime
    # The reveal's row in the personal-data access log (its seq in the chain).
    access_seq: int


class VendorOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    id_number_masked: str
    phone_masked: str
    residence_jurisdiction: str
    key_groups: list[KeyGroup]
    created_at: dt.datetime


class VendorSummaryOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    id_number_masked: str
    residence_jurisdiction: str
    key_groups: list[KeyGroup]
    created_at: dt.datetime


def _vendor_out(vendor: Vendor, key_groups: list[KeyGroup]) -> VendorOut:
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
        operation_id="registerVendor",
        summary="Sign up as a vendor (no token), or register a resident of your jurisdiction (street office)",
        security=[{}, {"bearer": []}],
        description=(
            "Anyone without a token: self sign-up, which also opens the vendor's account. With a street office's "
            "token: registers a resident of the office's own jurisdiction on their behalf (another jurisdiction: "
            "422 `outside_jurisdiction`). With a vendor's token: 409 `already_registered`; a department's or an "
            "admin's: 403 `forbidden`. Refuses an ID number with a wrong check character or birth date (422 "
            "`invalid_id_number`), a name or phone number that breaks its rule (422 `invalid_name`, "
            "`invalid_phone`), a person already registered (409 `vendor_exists`) and a username in use (409 "
            "`username_taken`). The answer carries only the masked ID number and phone; errors name the field, "
            "never the value."
        ),
        opt={
            PROBLEMS_OPT: (
                VendorExists,
                AlreadyRegistered,
                UsernameTaken,
                OutsideJurisdiction,
                IdNumberRejected,
                NameRejected,
                PhoneRejected,
            )
        },
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
        operation_id="listVendors",
        summary="List vendors (street office: its residents; admin: all)",
        security=[{"bearer": []}],
        guards=[requires("street_office", "admin")],
        description=(
            "Street offices (the residents of their jurisdiction) and admins (everyone); others 403. Oldest "
            "first, a page at a time. Each staff read is written to the personal-data access log with its "
            "`purpose`."
        ),
    )
    async def list_vendors(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentPrincipal,
        session: DbSession,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        purpose: Purpose = None,
    ) -> Page[VendorSummaryOut]:
        page = await service.list_vendors(
            session, principal, limit=limit, cursor=cursor, request_path=request.url.path, purpose=purpose
        )
        groups = await service.key_groups_by_vendor(session, [v.id for v in page.items], today=city_today(request))
        items = [
            VendorSummaryOut(
                id=v.id,
                name=v.name,
                id_number_masked=v.id_number_masked,
                residence_jurisdiction=v.residence_jurisdiction_code,
                key_groups=groups[v.id],
                created_at=v.created_at,
            )
            for v in page.items
        ]
        return page_of(items, page)

    @get(
        "/me",
        operation_id="getOwnVendor",
        summary="Your own vendor profile",
        security=[{"bearer": []}],
        guards=[requires("vendor")],
        description=(
            "Vendors only: their own profile, with the key groups verified and valid today; 404 "
            "`vendor_not_found` for a vendor-role account that has no vendor profile."
        ),
        opt={PROBLEMS_OPT: (VendorNotFound,)},
    )
    async def me(self, request: Request[Any, Any, Any], principal: CurrentPrincipal, session: DbSession) -> VendorOut:
        vendor = await service.get_own_vendor(session, principal)
        groups = await service.key_groups_by_vendor(session, [vendor.id], today=city_today(request))
        return _vendor_out(vendor, groups[vendor.id])

    @get(
        "/{vendor_id:uuid}",
        operation_id="getVendor",
        summary="One vendor (the vendor, street office of their residence, admin)",
        security=[{"bearer": []}],
        guards=[requires("vendor", "street_office", "admin")],
        description=(
            "The vendor themself, the street office of the vendor's residence jurisdiction and admins. Anyone "
            "else gets 404 `vendor_not_found`, as for an unknown id, so others' records stay invisible. Staff "
            "reads are written to the personal-data access log with their `purpose`."
        ),
        opt={PROBLEMS_OPT: (VendorNotFound,)},
    )
    async def get_vendor(
        self,
        request: Request[Any, Any, Any],
        vendor_id: FromPath[uuid.UUID],
        principal: CurrentPrincipal,
        session: DbSession,
        purpose: Purpose = None,
    ) -> VendorOut:
        vendor = await service.read_vendor(
            session, principal, vendor_id, request_path=request.url.path, purpose=purpose
        )
        groups = await service.key_groups_by_vendor(session, [vendor.id], today=city_today(request))
        return _vendor_out(vendor, groups[vendor.id])

    @post(
        "/{vendor_id:uuid}/id-number-reveals",
        operation_id="revealVendorIdNumber",
        summary="Reveal a vendor's full ID number (street office of their residence), with a purpose, logged",
        security=[{"bearer": []}],
        guards=[requires("street_office")],
        status_code=200,
        description=(
            "The street office of the vendor's residence jurisdiction only: the full ID number, which every other "
            "answer masks. `purpose` is required (1 to 200 characters, not only spaces: else 422 naming "
            "`purpose`); the reveal writes one row to the hash-chained personal-data access log (who, whom, when, "
            "the purpose, the request id) in the same transaction, and the answer is `Cache-Control: no-store`. "
            "Another street office gets 404 `vendor_not_found`, as for an unknown id; vendors, departments and "
            "admins get 403 `forbidden` (an admin does not handle cases: separation of duties)."
        ),
        opt={PROBLEMS_OPT: (VendorNotFound,)},
    )
    async def reveal_id_number(
        self,
        request: Request[Any, Any, Any],
        vendor_id: FromPath[uuid.UUID],
        data: JSONBody[RevealIdNumber],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Response[IdNumberRevealOut]:
        settings: Settings = request.app.state.settings
        reveal = await reveals.reveal_id_number(
            session,
            request.app.state.cipher,
            principal,
            vendor_id,
            purpose=data.purpose,
            request_path=request.url.path,
            request_id=request_id_of(request.scope),
            now=settings.now(),
        )
        body = IdNumberRevealOut(
            vendor_id=reveal.vendor_id,
            id_number=reveal.id_number,
            revealed_at=reveal.revealed_at,
            access_seq=reveal.access_seq,
        )
        return Response(body, headers={"Cache-Control": "no-store"})
