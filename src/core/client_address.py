"""The address a request came from, as limits and throttles key on it (RELIABILITY.md T-R3, ASVS 4.1.3).

Behind a reverse proxy every request arrives from the proxy; the proxy names the caller in `X-Forwarded-For`.
That header is the caller's to write too, so it is believed only as far as the proxies we were told to trust
(FLEXREG_TRUSTED_PROXIES, addresses or networks): starting from the connection's peer, each hop that is a
trusted proxy hands over to the address it appended, and the first address that is not a trusted proxy is the
client. A caller who adds addresses of their own only adds them to the left of the one our proxy appended,
which is where the walk stops. With no trusted proxies (the default) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_FORWARDED_FOR = b"x-forwarded-for"
# A forwarded chain longer than this is a caller padding it: only the last hops are looked at.
_MAX_HOPS = 16
UNKNOWN = "unknown"


def parse_trusted_proxies(value: str, *, name: str = "FLEXREG_TRUSTED_PROXIES") -> tuple[Network, ...]:
    """FLEXREG_TRUSTED_PROXIES: comma-separated addresses or CIDR networks (`10.0.0.0/8, 127.0.0.1`)."""
    networks = []
    for part in value.split(","):
        if part := part.strip():
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{name}: {part!r} is not an IP address or network") from None
    return tuple(networks)


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every X-Forwarded-For address, in order (several header lines are one list, RFC 9110 §5.3)."""
    hops: list[str] = []
    for name, value in headers:
        if name.lower() == _FORWARDED_FOR:
            hops.extend(part.strip() for part in value.decode("latin-1").split(","))
    return [hop for hop in hops[-_MAX_HOPS:] if hop]


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The caller's address: the peer, or, through trusted proxies only, the address they forwarded."""
    client = scope.get("client")
    address = client[0] if client else UNKNOWN
    if not trusted or not _is_trusted(address, trusted):
        return address
    for hop in reversed(_forwarded_hops(scope.get("headers", ()))):
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address
