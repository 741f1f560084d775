"""A bounded cache of values computed from large keys (a stored geometry's text or WKB).

`functools.lru_cache` keeps its keys: a geometry of 5,000 vertices is a few hundred KB of text, and 8,192 such
keys would hold gigabytes per worker. Here an entry is held under the SHA-256 of its key, so it costs its value
and 32 bytes, and the entry count is capped. A value must be a pure function of the key's bytes: then a changed
input is a new key, and nothing can go stale in any process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class DigestCache(Generic[V]):
    """Least recently used first out, at most `size` entries."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self._size = size
        self._entries: OrderedDict[bytes, V] = OrderedDict()

    def get(self, key: bytes, make: Callable[[], V]) -> V:
        """The value for `key`, made by `make()` (from the same bytes) on a miss."""
        digest = hashlib.sha256(key).digest()
        found = self._entries.get(digest)
        if found is not None:
            self._entries.move_to_end(digest)
            return found
        value = make()
        self._entries[digest] = value
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
