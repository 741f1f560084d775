"""Builders every domain's tests share: bearer headers, Chinese ID and phone numbers, the test city's geometry.

Each domain's own records are built in `tests/<domain>/builders.py` (registry: accounts, vendors, claims…).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from stdnum.cn.ric import calc_check_digit

from core.auth import Principal, issue_token
from core.settings import Settings
from registry.accounts import principal_for
from registry.models import Account

# A block of Dongcheng district, Beijing (WGS84), and one just east of it.
DONGCHENG_SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[116.40, 39.92], [116.42, 39.92], [116.42, 39.94], [116.40, 39.94], [116.40, 39.92]]],
}
NEIGHBOUR_SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[116.42, 39.92], [116.44, 39.92], [116.44, 39.94], [116.42, 39.94], [116.42, 39.92]]],
}


def auth_headers(
    settings: Settings, account: Account | Principal, vendor_id: uuid.UUID | None = None
) -> dict[str, str]:
    """A bearer token for this account or principal (issued on real time: JWT expiry is real-time security)."""
    principal = account if isinstance(account, Principal) else principal_for(account, vendor_id)
    return {"Authorization": f"Bearer {issue_token(settings.auth, principal)}"}


def id_number(born: dt.date | None = None, *, address: str = "110101", male: bool | None = None) -> str:
    """A random valid 18-character ID number (MOD 11-2 check character), born on `born` if given.

    Without `born`, a birth date from 1960 to 1999: an adult on any date the tests' clock is set to.
    """
    if born is None:
        born = dt.date(1960, 1, 1) + dt.timedelta(days=random.randint(0, 40 * 365))
    sequence = random.randint(0, 999)
    if male is not None and sequence % 2 != int(male):
        sequence = (sequence + 1) % 1000
    body = f"{address}{born:%Y%m%d}{sequence:03d}"
    return body + calc_check_digit(body + "0")


def phone_number() -> str:
    """A random mainland mobile number (13x…)."""
    return f"13{random.randint(0, 999_999_999):09d}"
