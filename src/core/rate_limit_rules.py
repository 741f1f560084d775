"""The rate limits' values: named limits of N requests per window, and FLEXREG_RATE_LIMITS that sets them.

Kept apart from `core.rate_limits` (which counts in PostgreSQL) so the settings can hold them without importing
the database layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec


class RateLimit(msgspec.Struct, frozen=True):
    """At most `requests` per `window_seconds`, counted per client address, or per account when authenticated
    (a vendor's account, and its address under the limit's `_per_address` twin)."""

    requests: int
    window_seconds: int


# The defaults, on in every environment (README, docs/limits.md). Sized for people, not scripts: a phone signs up
# once, a person signs in a few times a day, an inspector scans a permit a minute at most; a street office behind
# one NAT is authenticated and so counted per account (RELIABILITY.md T-R4).
DEFAULT_RATE_LIMITS: Final[Mapping[str, RateLimit]] = MappingProxyType(
    {
        # POST /vendors: public sign-up, per address (a street office registering residents: per account).
        "sign_up": RateLimit(20, 3600),
        # POST /auth/token, per address (the per-username throttle is the accounts' own: core.settings.AuthSettings).
        "sign_in": RateLimit(20, 60),
        # POST /documents, per account.
        "upload": RateLimit(120, 3600),
        # POST /exemption-checks: each one reads venues and rules and stores a decision.
        "exemption_check": RateLimit(60, 60),
        # The public look-ups: a permit's verification (API and the /verify page) and exemption references.
        "verify": RateLimit(60, 60),
        # Anyone may open vendor accounts: a vendor's requests count against its address too, under these, so more
        # accounts buy no more from one address. Five times the per-account limit: a family or a row of stalls
        # shares one phone's hotspot. Staff count per account only.
        "upload_per_address": RateLimit(600, 3600),
        "exemption_check_per_address": RateLimit(300, 60),
        "verify_per_address": RateLimit(300, 60),
    }
)

OFF: Final = "off"
_ITEM = re.compile(r"([a-z_]+)=(?:(\d+)/(\d+)|(off))")


def parse_rate_limits(value: str) -> Mapping[str, RateLimit]:
    """FLEXREG_RATE_LIMITS: `off` (no limits at all, for load tests and test suites), or comma-separated
    `name=requests/seconds` (or `name=off`) overriding the defaults; empty keeps the defaults."""
    text = value.strip()
    if text.lower() == OFF:
        return MappingProxyType({})
    limits = dict(DEFAULT_RATE_LIMITS)
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        match = _ITEM.fullmatch(part)
        if match is None:
            raise ValueError(f"FLEXREG_RATE_LIMITS: {part!r} is not name=requests/seconds nor name=off")
        name, requests, seconds, off = match.groups()
        if name not in DEFAULT_RATE_LIMITS:
            raise ValueError(
                f"FLEXREG_RATE_LIMITS: no limit is named {name!r} (known: {', '.join(DEFAULT_RATE_LIMITS)})"
            )
        if off:
            limits.pop(name, None)
            continue
        if int(requests) < 1 or int(seconds) < 1:
            raise ValueError(f"FLEXREG_RATE_LIMITS: {part!r} needs at least 1 request per at least 1 second")
        limits[name] = RateLimit(int(requests), int(seconds))
    return MappingProxyType(limits)
