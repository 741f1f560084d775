"""core.digest_cache: values by the digest of their key, the least recently used evicted first, at most `size`."""

from __future__ import annotations

import pytest

from core.digest_cache import DigestCache


def test_a_hit_does_not_make_the_value_again_and_the_oldest_goes_first() -> None:
    made: list[bytes] = []
    cache: DigestCache[int] = DigestCache(2)

    def get(key: bytes) -> int:
        return cache.get(key, lambda: made.append(key) or len(key))

    assert get(b"aa") == 2
    assert get(b"bbb") == 3
    assert get(b"aa") == 2  # a hit, and now the most recently used
    assert get(b"cccc") == 4  # evicts b"bbb"
    assert len(cache) == 2
    assert get(b"aa") == 2
    assert get(b"bbb") == 3  # made again
    assert made == [b"aa", b"bbb", b"cccc", b"bbb"]


def test_a_large_key_is_not_kept() -> None:
    cache: DigestCache[str] = DigestCache(4)
    key = b"x" * 1_000_000
    cache.get(key, lambda: "value")
    assert all(len(k) == 32 for k in cache._entries)  # the digest, not the megabyte


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        DigestCache(0)
