"""Fixtures of the permits tests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from tests.permits.exemption_world import Places, make_places


@pytest.fixture
async def places(session: AsyncSession, settings: Settings) -> Places:
    """The national-default world of tests.permits.exemption_world, committed for the app to see."""
    return await make_places(session, settings)
