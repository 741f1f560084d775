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


def auth_headers(settings: Settings, account: Account | Principal, vendor_id: uuid.UUID | None = None) -> dict[str, str]:
    principal = account if isinstance(account, Principal) else principal_for(account, vendor_id)
    return {"Authorization": f"Bearer {issue_token(settings.auth, principal)}"}
