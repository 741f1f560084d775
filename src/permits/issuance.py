"""Issuing permits: a public, unguessable number, the signed token an inspector checks offline, and reads.

A permit binds what a person on the street can be checked against (行政许可法 Art. 9/80: a licence is not
transferable): the holder's name masked (张*), the last four characters of their ID number, the activity, the
place and the hours. The token is an Ed25519 compact JWS of those facts (`permits.signing`); the verification
link carries it in its fragment (`{base}/verify/{number}#{token}`), so a scanner without network checks it
against the published keys, and the fragment never reaches a server log.

Numbers look like `XK-2026-7QX3M9K2VB4TNW8RJ`: 许可 (XK), the year of issue, 80 random bits in Crockford's
base32 (no I, L, O, U: read aloud or typed from a card without confusion) and a Luhn mod-32 check character
over year and body, so a mistyped number is told apart from an unknown one without a database read.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from core.crypto import FieldCipher
from core.geojson import Geometry
from permits import signing
from permits.errors import PermitNotFound
from permits.issued_models import STATUS_SEVERITY, Permit, PermitComponent
from registry.errors import VendorNotFound
from registry.id_numbers import mask_name
from registry.models import Vendor
from venues.schedule import Window

__all__ = [
    "PERMIT_AUDIENCE",
    "PERMIT_TYP",
    "IssuedComponent",
    "IssuedPermit",
    "PermitHours",
    "PermitPeriod",
    "PermitPlace",
    "component_status",
    "get_permit",
    "issue_permit",
    "new_permit_number",
    "normalise_permit_number",
    "permit_status",
    "verification_url",
]

PREFIX: Final = "XK"
CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS: Final = 80
_BODY_LENGTH: Final = _RANDOM_BITS // 5
_NUMBER = re.compile(rf"^{PREFIX}-([0-9]{{4}})-([{CROCKFORD}]{{{_BODY_LENGTH}}})([{CROCKFORD}])$")
# The token's type and audience: a permit token is not a revocation list, a chain head or an API token.
PERMIT_TYP: Final = "permit+jwt"
PERMIT_AUDIENCE: Final = "flexreg-permit"


class PermitPlace(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where the permit holds: a venue (and pitch), or a road footprint; `geometry` in WGS84."""

    name: str
    venue_id: uuid.UUID | None = None
    pitch_label: str | None = None
    geometry: Geometry | None = None


class PermitPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """[start, end): from `start` up to, not including, `end`."""

    start: dt.datetime
    end: dt.datetime


class PermitHours(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """When the permit holds: weekly windows in the city's time, or fixed periods (a road occupation)."""

    schedule: list[Window] = []
    periods: list[PermitPeriod] = []


class IssuedComponent(msgspec.Struct, frozen=True, kw_only=True):
    """One department's approval the permit is made of: its task, decision number and validity."""

    task_id: uuid.UUID
    department: str
    permit_type: str
    decision_number: str
    valid_from: dt.date
    valid_to: dt.date


@dataclass(frozen=True, slots=True)
class IssuedPermit:
    number: str
    token: str
    verification_url: str


def new_permit_number(year: int) -> str:
    """A fresh number: prefix, year, 80 random bits in Crockford base32 and a Luhn mod-32 check character."""
    value = secrets.randbits(_RANDOM_BITS)
    body = "".join(CROCKFORD[(value >> (5 * shift)) & 31] for shift in reversed(range(_BODY_LENGTH)))
    check = luhn.calc_check_digit(f"{year:04d}{body}", alphabet=CROCKFORD)
    return f"{PREFIX}-{year:04d}-{body}{check}"


def normalise_permit_number(raw: str) -> str | None:
    """The number in its stored form (upper case), or None when it cannot be one (shape or check character)."""
    number = raw.strip().upper()
    match = _NUMBER.match(number)
    if match is None or not luhn.is_valid(match.group(1) + match.group(2) + match.group(3), alphabet=CROCKFORD):
        return None
    return number


def verification_url(public_base_url: str, number: str, token: str) -> str:
    """The link the QR code encodes; the token rides in the fragment, which browsers never send."""
    return f"{public_base_url.rstrip('/')}/verify/{number}#{token}"


def _start_of(day: dt.date, zone: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp())


def _place_claim(place: PermitPlace) -> dict[str, Any]:
    """The place as the token binds it: names and ids, and the geometry's bounding box (the outline itself
    would swell the QR code; GET /permits/{number} has it)."""
    claim: dict[str, Any] = {"name": place.name}
    if place.venue_id is not None:
        claim["venue_id"] = str(place.venue_id)
    if place.pitch_label is not None:
        claim["pitch"] = place.pitch_label
    if place.geometry is not None:
        claim["bbox"] = [round(edge, 6) for edge in shape(msgspec.to_builtins(place.geometry)).bounds]
    return claim


def token_claims(
    *,
    number: str,
    holder_masked: str,
    id_last4: str,
    activity_code: str,
    place: PermitPlace,
    hours: PermitHours,
    valid_from: dt.date,
    valid_to: dt.date,
    departments: Sequence[str],
    issued_at: dt.datetime,
    issuer: str,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """What the permit's token states; `exp` is the end of `valid_to` in the city, `nbf` its first day's start."""
    return {
        "iss": issuer,
        "sub": number,
        "aud": PERMIT_AUDIENCE,
        "iat": int(issued_at.timestamp()),
        "nbf": _start_of(valid_from, zone),
        "exp": _start_of(valid_to + dt.timedelta(days=1), zone),
        "holder": holder_masked,
        "id_last4": id_last4,
        "activity": activity_code,
        "place": _place_claim(place),
        "hours": msgspec.to_builtins(hours),
        "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat(),
        "departments": list(departments),
    }


async def issue_permit(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    application_id: uuid.UUID,
    vendor_id: uuid.UUID,
    activity_code: str,
    place: PermitPlace,
    hours: PermitHours,
    valid_from: dt.date,
    valid_to: dt.date,
    conditions: Sequence[str],
    components: Sequence[IssuedComponent],
    now: dt.datetime,
    public_base_url: str,
    timezone: str,
) -> IssuedPermit:
    """Issue the permit of an approved application: number, signed token and verification link.

    The token expires with the earliest validity among the permit and its components (the permit takes its
    worst component's status, so it is expired once any component is). A second permit for one application
    is refused by the unique application_id (an IntegrityError: the caller's approval is the one writer).
    """
    if not components:
        raise ValueError("a permit needs at least one component")
    if valid_to < valid_from:
        raise ValueError("valid_to is before valid_from")
    holder = (
        await session.execute(select(Vendor.name, Vendor.id_number_masked).where(Vendor.id == vendor_id))
    ).one_or_none()
    if holder is None:
        raise VendorNotFound()
    name, id_number_masked = holder
    zone = ZoneInfo(timezone)
    number = new_permit_number(now.astimezone(zone).year)
    departments = sorted({component.department for component in components})
    signer = await signing.current_signer(session, cipher)
    holder_masked, id_last4 = mask_name(name), id_number_masked[-4:]
    claims = token_claims(
        number=number,
        holder_masked=holder_masked,
        id_last4=id_last4,
        activity_code=activity_code,
        place=place,
        hours=hours,
        valid_from=valid_from,
        valid_to=min([valid_to, *(component.valid_to for component in components)]),
        departments=departments,
        issued_at=now,
        issuer=public_base_url.rstrip("/"),
        zone=zone,
    )
    token = signer.sign_claims(claims, typ=PERMIT_TYP)
    session.add(
        Permit(
            number=number,
            application_id=application_id,
            vendor_id=vendor_id,
            activity_code=activity_code,
            holder_masked=holder_masked,
            id_last4=id_last4,
            place=msgspec.to_builtins(place),
            hours=msgspec.to_builtins(hours),
            valid_from=valid_from,
            valid_to=valid_to,
            conditions=list(conditions),
            status="valid",
            token=token,
            kid=signer.kid,
            issued_at=now,
            version=1,
        )
    )
    await session.flush()  # the permit row first: components refer to it
    session.add_all(
        PermitComponent(
            task_id=component.task_id,
            permit_number=number,
            department=component.department,
            permit_type=component.permit_type,
            decision_number=component.decision_number,
            valid_from=component.valid_from,
            valid_to=component.valid_to,
            status="valid",
        )
        for component in components
    )
    await session.flush()
    return IssuedPermit(number=number, token=token, verification_url=verification_url(public_base_url, number, token))


async def get_permit(
    session: AsyncSession, raw_number: str, *, for_update: bool = False
) -> tuple[Permit, list[PermitComponent]]:
    """The permit with this number and its components (by department and permit type), or PermitNotFound."""
    number = normalise_permit_number(raw_number)
    query = select(Permit).where(Permit.number == number)
    permit = None if number is None else await session.scalar(query.with_for_update() if for_update else query)
    if permit is None:
        # Never repeat the number: a mistyped one may be someone's ID number pasted into the wrong field.
        raise PermitNotFound("No permit has that number")
    components = await session.scalars(
        select(PermitComponent)
        .where(PermitComponent.permit_number == permit.number)
        .order_by(PermitComponent.department, PermitComponent.permit_type, PermitComponent.task_id)
    )
    return permit, list(components)


def component_status(component: PermitComponent, today: dt.date, *, permit: Permit | None = None) -> str:
    """A component's status today: as set by its department, or `expired` once its validity (or, given the
    permit, the permit's) has passed."""
    last_day = component.valid_to if permit is None else min(component.valid_to, permit.valid_to)
    if component.status == "valid" and today > last_day:
        return "expired"
    return component.status


def permit_status(permit: Permit, components: Sequence[PermitComponent], today: dt.date) -> str:
    """The permit's status today: the worst of its components' (revoked > suspended > expired > valid)."""
    statuses = [component_status(component, today) for component in components]
    if permit.status == "valid" and today > permit.valid_to:
        statuses.append("expired")
    return max([permit.status, *statuses], key=STATUS_SEVERITY.__getitem__)
