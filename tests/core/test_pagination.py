"""Cursors are opaque and signed: only what the service issued comes back in (RELIABILITY.md §4 #58)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Iterator

import msgspec
import pytest

from core import pagination
from core.errors import InvalidParameter
from core.pagination import decode_cursor, encode_cursor

KEY = b"test-secret-key-" * 4


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    pagination.configure(KEY)
    yield
    pagination.configure(KEY)  # as the app fixture sets it, whatever a test did


def unsigned(values: list[object]) -> str:
    """A cursor as the service used to issue them: base64url JSON, no tag."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def assert_refused(cursor: str, *types: type[object]) -> None:
    with pytest.raises(InvalidParameter) as caught:
        decode_cursor(cursor, *types)
    assert caught.value.errors is not None
    assert caught.value.errors[0].field == "cursor"


def test_cursor_round_trips_its_values() -> None:
    at = dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)
    row = uuid.uuid4()
    assert decode_cursor(encode_cursor(at, row), dt.datetime, uuid.UUID) == (at, row)
    assert decode_cursor(encode_cursor("110101001001"), str) == ("110101001001",)


def test_cursor_is_url_safe_and_opaque() -> None:
    cursor = encode_cursor("110101001001")
    assert "110101001001" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    ("values", "types"),
    [
        (["\u0000"], (str,)),
        (["9999-12-31T23:59:59-12:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        (["0001-01-01T00:00:00+14:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        (["2025-06-01T08:00:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        (["110101001001"], (str,)),
    ],
    ids=["nul", "overflow-late", "overflow-early", "naive", "plausible"],
)
def test_unsigned_cursors_are_refused(values: list[object], types: tuple[type[object], ...]) -> None:
    assert_refused(unsigned(values), *types)


@pytest.mark.parametrize(
    ("values", "types"),
    [
        (["a\u0000b"], (str,)),
        (["9999-12-31T23:59:59-12:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        (["0001-01-01T00:00:00+14:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        (["2025-06-01T08:00:00", str(uuid.uuid4())], (dt.datetime, uuid.UUID)),
        ([1], (str,)),
        (["a", "b"], (str,)),
    ],
    ids=["nul", "overflow-late", "overflow-early", "naive", "wrong-type", "wrong-arity"],
)
def test_signed_but_unusable_cursors_are_refused(values: list[object], types: tuple[type[object], ...]) -> None:
    """Even a correctly signed cursor never hands PostgreSQL a value it would fail on."""
    assert_refused(encode_cursor(*values), *types)


def test_tampered_cursor_is_refused() -> None:
    cursor = encode_cursor("110101001001")
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 0x01  # one digit of the code
    assert_refused(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), str)
    assert_refused(cursor[:-1], str)
    assert_refused(cursor[:10], str)


def test_cursor_from_another_key_is_refused() -> None:
    cursor = encode_cursor("110101001001")
    pagination.configure(b"another-secret-!" * 4)
    assert_refused(cursor, str)


@pytest.mark.parametrize("cursor", ["", "garbage!!", "W10", "eyJ4IjoxfQ", "=" * 8, "\u0000"])
def test_garbage_is_refused(cursor: str) -> None:
    assert_refused(cursor, str)
