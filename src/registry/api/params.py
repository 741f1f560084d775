"""Request pieces the registry's resources share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request
from litestar.params import QueryParameter

from core.settings import Settings
from core.text import matching

JurisdictionCode = Annotated[
    str, matching(r"^[0-9]{12}$", "must be a 12-digit division code", description="12-digit division code")
]

Purpose = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=200,
        description="Why staff read this personal data (a case reference or purpose); written to the access log",
    ),
]


def city_today(request: Request[Any, Any, Any]) -> dt.date:
    """Today's date in the city's time zone: validity and eligibility are judged by the local calendar."""
    settings: Settings = request.app.state.settings
    return settings.today()
