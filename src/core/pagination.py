"""Cursor pagination shared by every list: ?limit= (1..200, default 50) and an opaque, signed ?cursor=.

A cursor is base64url(tag + JSON of the last row's sort key), the tag being HMAC-SHA256 over the JSON,
truncated to 128 bits, under a key derived from the service secret (`configure`, called by create_app).
A client can hand back only what the service gave it: anything edited or made up is a 400 naming `cursor`,
before its values reach a query (RELIABILITY.md §4 #58).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter
from sqlalchemy import Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import FieldError, InvalidParameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_TAG_BYTES = 16

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1 to 200)")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="next_cursor from the previous page")]

_key: bytes | None = None

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


# A datetime in a cursor must carry its offset: rows are ordered by timestamptz.
_AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]


def configure(secret: bytes) -> None:
    """Set the signing key once per process (derived, so a cursor tag is never valid as anything else)."""
    global _key
    _key = hmac.new(secret, b"flexreg pagination cursor v1", hashlib.sha256).digest()


def _tag(payload: bytes) -> bytes:
    if _key is None:
        raise RuntimeError("core.pagination.configure() has not been called")
    return hmac.new(_key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_cursor(*values: Any) -> str:
    payload = msgspec.json.encode(list(values))
    return base64.urlsafe_b64encode(_tag(payload) + payload).decode().rstrip("=")


def _refused() -> InvalidParameter:
    message = "is not a cursor this service issued"
    return InvalidParameter(f"cursor: {message}", errors=[FieldError("cursor", message)])


def decode_cursor(cursor: str, *types: type[Any]) -> tuple[Any, ...]:
    """The values a cursor carries, typed; anything forged or garbled is a 400 naming `cursor`, like a bad limit."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _refused() from None
    tag, payload = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, _tag(payload)):
        raise _refused()
    wanted = tuple(_AwareDatetime if t is dt.datetime else t for t in types)
    try:
        values = msgspec.json.decode(payload, type=tuple[wanted] if wanted else list[Any])  # type: ignore[valid-type]
        for value in values:
            _check(value)
    except (ValueError, OverflowError, msgspec.DecodeError, msgspec.ValidationError):
        # Signed but unusable (a key issued before a change of sort key): still the client's cursor to drop.
        raise _refused() from None
    return tuple(values)


def _check(value: Any) -> None:
    """Values PostgreSQL would fail on rather than compare: NUL in text, instants beyond its range in UTC."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL")
    if isinstance(value, dt.datetime):
        value.astimezone(dt.UTC)  # OverflowError at the edges of year 1 and 9999


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    order_by: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    key: Callable[[T], Sequence[Any]],
    convert: Callable[[Row[Any]], T] | None = None,
) -> Page[T]:
    """One page of `query` in `order_by` order (a unique key, last column the id), after the signed `cursor`.

    Keyset, not offset: a page costs the same however deep it is, and rows added meanwhile are not skipped.
    `key` gives an item's values of `order_by` for the next cursor; `convert` turns a row into an item (by
    default the query's single selected entity).
    """
    if cursor is not None:
        after = decode_cursor(cursor, *(column.type.python_type for column in order_by))
        query = query.where(tuple_(*order_by) > tuple_(*after))
    query = query.order_by(*order_by).limit(limit + 1)
    if convert is None:
        rows: list[Any] = list((await session.scalars(query)).all())
    else:
        rows = [convert(row) for row in await session.execute(query)]
    items: list[T] = rows[:limit]
    next_cursor = encode_cursor(*key(items[-1])) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


def page_of(items: list[T], page: Page[Any]) -> Page[T]:
    """The same page with its items shaped for the reply."""
    return Page(items=items, next_cursor=page.next_cursor)
