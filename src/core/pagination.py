"""Cursor pagination shared by every list: ?limit= (1..200, default 50) and an opaque ?cursor=."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from core.errors import FieldError, InvalidParameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1 to 200)")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="next_cursor from the previous page")]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """The values a cursor carries, typed; anything forged or garbled is a 400 naming `cursor`, like a bad limit."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw, type=tuple[tuple(types)] if types else list[Any])  # type: ignore[misc]
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        message = "is not a cursor this service issued"
        raise InvalidParameter(f"cursor: {message}", errors=[FieldError("cursor", message)]) from None
    return tuple(values)
