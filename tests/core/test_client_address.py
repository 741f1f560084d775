"""Whose address a request is counted under: the peer, or what trusted proxies forwarded, never the caller's say."""

from __future__ import annotations

from typing import Any

import pytest

from core.client_address import client_address, parse_trusted_proxies


def scope(peer: str, *forwarded: str) -> Any:
    return {"client": (peer, 50000), "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


PROXY = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1")


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(scope("203.0.113.7", "198.51.100.1"), ()) == "203.0.113.7"


def test_a_trusted_proxy_hands_over_to_the_address_it_appended() -> None:
    assert client_address(scope("10.1.2.3", "198.51.100.1"), PROXY) == "198.51.100.1"


def test_addresses_the_caller_wrote_are_not_believed() -> None:
    # The caller sent "X-Forwarded-For: 1.2.3.4"; our proxy appended the address it saw.
    assert client_address(scope("10.1.2.3", "1.2.3.4, 198.51.100.1"), PROXY) == "198.51.100.1"
    # Rotating the spoofed part does not move the bucket.
    assert client_address(scope("10.1.2.3", "5.6.7.8, 198.51.100.1"), PROXY) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_hop() -> None:
    assert client_address(scope("127.0.0.1", "9.9.9.9", "198.51.100.1, 10.9.9.9"), PROXY) == "198.51.100.1"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() -> None:
    assert client_address(scope("203.0.113.7", "198.51.100.1"), PROXY) == "203.0.113.7"


def test_garbage_in_the_header_is_the_client_it_names_not_a_crash() -> None:
    assert client_address(scope("10.1.2.3", "not-an-address"), PROXY) == "not-an-address"
    assert client_address({"headers": []}, PROXY) == "unknown"


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="FLEXREG_TRUSTED_PROXIES"):
        parse_trusted_proxies("10.0.0.0/8, proxy.local")
