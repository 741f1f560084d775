"""Names of the dependencies every handler may ask for (registered by the app factory)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.conditional import Precondition

DbSession = NamedDependency[AsyncSession]
CurrentPrincipal = NamedDependency[Principal]
OptionalPrincipal = NamedDependency[Principal | None]
# The If-Match header of a decision (handlers with opt={IF_MATCH_OPT: True}); the service checks it after scope.
IfMatch = NamedDependency[Precondition]
