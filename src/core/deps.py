"""Names of the dependencies every handler may ask for (registered by the app factory)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal

DbSession = NamedDependency[AsyncSession]
CurrentPrincipal = NamedDependency[Principal]
OptionalPrincipal = NamedDependency[Principal | None]
