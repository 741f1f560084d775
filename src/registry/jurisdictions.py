"""Jurisdictions: the areas street offices act in and vendors live in (12-digit division codes)."""

from __future__ import annotations

from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import flush_or_raise
from core.errors import InvalidInput
from core.pagination import Page, keyset_page
from registry.errors import JurisdictionExists, JurisdictionNotFound
from registry.models import Jurisdiction

__all__ = [
    "STREET_LEVEL_MESSAGE",
    "establish_jurisdiction",
    "get_jurisdiction",
    "is_street_level",
    "list_jurisdictions",
]

STREET_LEVEL_MESSAGE = "must be a street- or township-level division code (digits 7 to 9 not 000)"


def is_street_level(code: str) -> bool:
    """A 12-digit statistical code naming a street, town or township (DOMAIN.md §6.3: digits 7 to 9 not 000).

    Street offices act there and residents live there; a district or county code (…000000) names neither.
    """
    return len(code) == 12 and code.isascii() and code.isdigit() and code[6:9] != "000"


async def establish_jurisdiction(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    boundary: dict[str, Any],
    shape: shapely.Geometry,
    parent_code: str | None = None,
) -> Jurisdiction:
    """Record a jurisdiction with its checked boundary."""
    name = name.strip()
    if not name:
        raise InvalidInput.for_field("name", "must not be blank")
    if parent_code is not None and await session.get(Jurisdiction, parent_code) is None:
        raise InvalidInput.for_field("parent_code", "no such jurisdiction")
    if await session.get(Jurisdiction, code) is not None:
        raise JurisdictionExists()
    min_lon, min_lat, max_lon, max_lat = shape.bounds
    jurisdiction = Jurisdiction(
        code=code,
        name=name,
        parent_code=parent_code,
        boundary=boundary,
        min_lon=min_lon,
        min_lat=min_lat,
        max_lon=max_lon,
        max_lat=max_lat,
    )
    session.add(jurisdiction)
    await flush_or_raise(session, {"pk_registry_jurisdiction": JurisdictionExists})
    return jurisdiction


async def get_jurisdiction(session: AsyncSession, code: str) -> Jurisdiction:
    jurisdiction = await session.get(Jurisdiction, code)
    if jurisdiction is None:
        raise JurisdictionNotFound()
    return jurisdiction


async def list_jurisdictions(
    session: AsyncSession, *, limit: int, cursor: str | None = None, parent_code: str | None = None
) -> Page[Jurisdiction]:
    """Jurisdictions in code order, optionally the children of one (public reference data)."""
    query = select(Jurisdiction)
    if parent_code is not None:
        query = query.where(Jurisdiction.parent_code == parent_code)
    return await keyset_page(
        session, query, (Jurisdiction.code,), limit=limit, cursor=cursor, key=lambda row: (row.code,)
    )
