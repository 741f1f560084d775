"""The demo city: Dongcheng district (Beijing), two street offices, one account per role, a few vendors.

Idempotent: every piece is looked up first and only created when missing, so `flexreg demo` can run before
every `flexreg serve`. Boundaries are simplified outlines at real coordinates (WGS84), not survey data.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.conditional import Precondition
from core.crypto import FieldCipher
from core.db import transaction
from core.geojson import Polygon, check_area, to_builtins
from core.settings import Settings
from registry import accounts, claims, jurisdictions, vendors
from registry.accounts import principal_for
from registry.catalogue import load_catalogue
from registry.models import Account, Jurisdiction, Vendor

logger = logging.getLogger(__name__)

DISTRICT = (
    "110101000000",
    "东城区 Dongcheng District",
    None,
    [[116.379, 39.857], [116.449, 39.857], [116.449, 39.973], [116.379, 39.973], [116.379, 39.857]],
)
DONGHUAMEN = (
    "110101001000",
    "东华门街道 Donghuamen Subdistrict",
    "110101000000",
    [[116.385, 39.899], [116.418, 39.899], [116.418, 39.925], [116.385, 39.925], [116.385, 39.899]],
)
JINGSHAN = (
    "110101002000",
    "景山街道 Jingshan Subdistrict",
    "110101000000",
    [[116.388, 39.925], [116.412, 39.925], [116.412, 39.941], [116.388, 39.941], [116.388, 39.925]],
)

# (username, password, role, jurisdiction, department)
STAFF = [
    ("demo_admin", "demo-admin-pass", "admin", None, None),
    ("demo_donghuamen", "demo-staff-pass", "street_office", DONGHUAMEN[0], None),
    ("demo_jingshan", "demo-staff-pass", "street_office", JINGSHAN[0], None),
    ("demo_market", "demo-review-pass", "department", None, "market_regulation"),
    ("demo_urban", "demo-review-pass", "department", None, "urban_management"),
]

# (username, name, synthetic ID number with a valid check digit, phone, residence, claim)
VENDORS: list[tuple[str, str, str, str, str, dict[str, Any] | None]] = [
    (
        "demo_vendor",
        "王小明",
        "110101199503010031",
        "13800138000",
        DONGHUAMEN[0],
        {"group": "college_graduate", "details": {"graduation_on": "2026-07-01"}, "verify": True},
    ),
    (
        "demo_vendor_li",
        "李秀英",
        "110101197503150027",
        "13900139000",
        DONGHUAMEN[0],
        {"group": "laid_off_unemployed", "details": {"registered_unemployed_since": "2026-01-10"}, "verify": False},
    ),
    (
        "demo_vendor_zhao",
        "赵建国",
        "110101196808080010",
        "13700137000",
        JINGSHAN[0],
        {
            "group": "employment_difficulty",
            "details": {"category": "over_40_female_over_50_male", "since": "2025-06-01"},
            "verify": True,
        },
    ),
]
VENDOR_PASSWORD = "demo-vendor-pass"  # noqa: S105 (printed on purpose: demo data)


async def _jurisdiction(
    session: AsyncSession, code: str, name: str, parent: str | None, ring: list[list[float]]
) -> None:
    if await session.get(Jurisdiction, code) is not None:
        return
    boundary = Polygon(coordinates=[ring])
    await jurisdictions.establish_jurisdiction(
        session,
        code=code,
        name=name,
        boundary=to_builtins(boundary),
        shape=check_area(boundary, "boundary"),
        parent_code=parent,
    )


async def build_demo_city(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Create whatever part of the demo city is missing."""
    cipher = FieldCipher(settings.data.data_key)
    today = settings.today()
    async with transaction(sessionmaker) as session:
        for code, name, parent, ring in (DISTRICT, DONGHUAMEN, JINGSHAN):
            await _jurisdiction(session, code, name, parent, ring)
        for username, password, role, jurisdiction_code, department_code in STAFF:
            if await accounts.find_account(session, username) is None:
                await accounts.open_account(
                    session,
                    username=username,
                    password=password,
                    role=role,  # type: ignore[arg-type]
                    jurisdiction_code=jurisdiction_code,
                    department_code=department_code,
                    known_departments=load_catalogue().department_codes,
                )
        for username, name, id_number, phone, residence, claim in VENDORS:
            if await accounts.find_account(session, username) is not None:
                continue
            vendor = await vendors.register_vendor(
                session,
                cipher,
                username=username,
                password=VENDOR_PASSWORD,
                name=name,
                id_number=id_number,
                phone=phone,
                residence_jurisdiction=residence,
                today=today,
            )
            if claim is not None:
                await _claim(session, vendor, claim, residence, today)


async def _claim(session: AsyncSession, vendor: Vendor, claim: dict[str, Any], residence: str, today: dt.date) -> None:
    """File the vendor's claim as they would, and (for some) verify it as their street office would."""
    account = await session.get(Account, vendor.account_id)
    staff = (await session.scalars(select(Account).where(Account.jurisdiction_code == residence))).first()
    if account is None or staff is None:
        raise RuntimeError("the demo vendor's account and street office must exist before its claim")
    record = await claims.submit_claim(
        session,
        principal_for(account, vendor.id),
        vendor_id=vendor.id,
        group=claim["group"],
        details=claim["details"],
        evidence_document_ids=[],
        today=today,
    )
    if claim["verify"]:
        await claims.decide_claim(
            session,
            principal_for(staff),
            record.id,
            decision="verified",
            valid_until=None,
            reason=None,
            today=today,
            precondition=Precondition(f'"{record.version}"'),
            request_path="flexreg demo",
        )


def account_lines() -> list[str]:
    """The demo accounts as `flexreg demo` and `flexreg serve --demo` list them."""
    lines = ["Demo accounts (username / password / role / scope):"]
    for username, password, role, jurisdiction_code, department_code in STAFF:
        lines.append(f"  {username:20} {password:18} {role:14} {jurisdiction_code or department_code or ''}".rstrip())
    for username, _name, _id, _phone, residence, _claim in VENDORS:
        lines.append(f"  {username:20} {VENDOR_PASSWORD:18} {'vendor':14} lives in {residence}")
    return lines
