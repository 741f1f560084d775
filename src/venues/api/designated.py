"""GET /designated-places: the designated places covering a point, open at an instant (public).

The parameters are read by hand, as GET /activities reads its own: this is a public read that phones and the
permits' exemption checks make often, and Litestar's parameter parsing would be a large share of its time. They
are documented in OpenAPI by `document_parameters`; unknown and repeated parameters are refused by
core.http_guard before the handler runs.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from litestar import Controller, Request, get
from litestar.enums import ParamType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Reference, Schema
from litestar.openapi.spec import Parameter as OpenAPIParameter
from litestar.openapi.spec.enums import OpenAPIType
from litestar.response.base import ASGIResponse

from core import coords
from core.errors import InvalidInput, InvalidParameter
from core.geojson import CHINA_BOUNDS
from core.http_guard import QUERY_OPT
from core.openapi import PROBLEMS_OPT
from core.settings import Settings
from venues import geo
from venues.designated import DesignatedPlace, Designation, index_of

PATH = "/designated-places"
PARAMETERS = ("lon", "lat", "at", "coordinate_system")
MIN_LON, MIN_LAT, MAX_LON, MAX_LAT = CHINA_BOUNDS
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
# RFC 3339 §5.6 date-time; `t`, `z` and a leap second (:60) are allowed there.
_DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|([+-])([0-9]{2}):([0-9]{2}))$"
)
# Instants whose neighbouring days Python's datetime can still represent in every offset.
_FIRST_YEAR, _LAST_YEAR = 2, 9998


class DesignatedPlacesOut(msgspec.Struct, kw_only=True):
    items: list[DesignatedPlace]


_ENCODER = msgspec.json.Encoder()


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The query's parameters, split by hand: core.http_guard has already refused repeated, unknown and
    undecodable ones, and Litestar's own parsing was a fifth of this read's time (measured)."""
    found: dict[str, str] = {}
    for pair in request.scope["query_string"].decode("utf-8").split("&"):
        if pair:
            key, _, value = pair.partition("=")
            found[unquote_plus(key) if "%" in key or "+" in key else key] = (
                unquote_plus(value) if "%" in value or "+" in value else value
            )
    return found


def _coordinate(query: dict[str, str], name: str, low: float, high: float, other: str) -> float:
    raw = query.get(name)
    if raw is None:
        raise InvalidParameter.for_field(name, "is required")
    if not _NUMBER.match(raw):
        raise InvalidParameter.for_field(name, "must be a decimal number")
    value = float(raw)
    if not math.isfinite(value):
        raise InvalidParameter.for_field(name, "must be a finite number")
    if not low <= value <= high:
        raise InvalidParameter.for_field(
            name, f"must be from {low} to {high} (inside China); are {name} and {other} swapped?"
        )
    return value


def _instant(request: Request[Any, Any, Any], query: dict[str, str]) -> dt.datetime:
    raw = query.get("at")
    if raw is None:
        settings: Settings = request.app.state.settings
        return settings.now()
    match = _DATE_TIME.match(raw)
    if match is None:
        raise InvalidParameter.for_field(
            "at", "must be an RFC 3339 date-time with an offset, e.g. 2026-06-15T07:30:00+08:00"
        )
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise InvalidInput.for_field("at", f"must lie in the years {_FIRST_YEAR} to {_LAST_YEAR}")
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = dt.timedelta(0)
    if match.group(9):
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            raise InvalidParameter.for_field("at", "has an offset out of range")
        offset = (1 if match.group(9) == "+" else -1) * dt.timedelta(hours=hours, minutes=minutes)
    leap = second == 60  # a leap second names the instant just before the next minute's first
    try:
        instant = dt.datetime(year, month, day, hour, minute, 59 if leap else second, micro, tzinfo=dt.timezone(offset))
    except ValueError as exc:
        raise InvalidParameter.for_field("at", f"is not a date-time: {exc}") from None
    return instant + dt.timedelta(seconds=1) if leap else instant


def _coordinate_system(query: dict[str, str]) -> str:
    value = query.get("coordinate_system", "wgs84")
    if value not in ("wgs84", "gcj02"):
        raise InvalidParameter.for_field("coordinate_system", "must be one of gcj02, wgs84")
    return value


def document_parameters(schema: OpenAPI) -> None:
    """Add the hand-read parameters of GET /designated-places to the OpenAPI document."""
    item = (schema.paths or {}).get(f"/api/v1{PATH}")
    if item is None or item.get is None:
        return
    item.get.parameters = [
        *(item.get.parameters or []),
        OpenAPIParameter(
            name="lon",
            param_in=ParamType.QUERY,
            required=True,
            description="Longitude of the point (WGS84, or GCJ-02 with `coordinate_system=gcj02`), inside China",
            schema=Schema(type=OpenAPIType.NUMBER, minimum=MIN_LON, maximum=MAX_LON),
        ),
        OpenAPIParameter(
            name="lat",
            param_in=ParamType.QUERY,
            required=True,
            description="Latitude of the point, inside China",
            schema=Schema(type=OpenAPIType.NUMBER, minimum=MIN_LAT, maximum=MAX_LAT),
        ),
        OpenAPIParameter(
            name="at",
            param_in=ParamType.QUERY,
            required=False,
            description="The instant asked about, RFC 3339 with an offset (default: now)",
            schema=Schema(type=OpenAPIType.STRING, format="date-time"),  # type: ignore[arg-type]
        ),
        OpenAPIParameter(
            name="coordinate_system",
            param_in=ParamType.QUERY,
            required=False,
            description="The datum of `lon`/`lat`: `wgs84` (default) or `gcj02` (AMap/Tencent SDKs), converted",
            schema=Reference(ref="#/components/schemas/CoordinateSystem"),
        ),
    ]


def examples() -> list[msgspec.Struct]:
    """The Donghuamen morning market, as a phone asking at 07:30 on a Monday sees it."""
    city = dt.timezone(dt.timedelta(hours=8))
    return [
        DesignatedPlacesOut(
            items=[
                DesignatedPlace(
                    venue_id=uuid.UUID("3f6b1c2e-8d4a-4c1e-9b7a-2e5d8f0a1c34"),
                    venue_revision=3,
                    name="东华门早市",
                    jurisdiction_code="110101001000",
                    designation=Designation(
                        authority="北京市东城区人民政府",
                        document_number="东政发〔2026〕12号",
                        designated_on=dt.date(2026, 3, 1),
                    ),
                    allowed_categories=["agricultural_products", "daily_necessities"],
                    opens_at=dt.datetime(2026, 6, 15, 6, 0, tzinfo=city),
                    closes_at=dt.datetime(2026, 6, 15, 9, 0, tzinfo=city),
                )
            ]
        )
    ]


class DesignatedPlaceController(Controller):
    path = PATH
    tags = ["designated-places"]

    @get(
        "/",
        operation_id="findDesignatedPlaces",
        summary="Designated places covering a point, open at an instant",
        description=(
            "Anyone. The designated zones (designated by a county-level or higher government; proposed zones "
            "never count) that cover the point `lon`,`lat` (boundary included) and are open at `at` (default "
            "now): not closed or suspended then, within their validity, not on a closed date, with a session "
            "of their schedule running (a session past midnight belongs to the day it opens). Each carries "
            "the venue's revision, its designation, the categories it allows and the session's opening and "
            "closing instants. Answers reflect every venue change committed before the request, on every app "
            "process. A missing, non-numeric or non-finite coordinate, one outside China (lat/lon swapped), an "
            "`at` that is not RFC 3339 with an offset, or an unknown `coordinate_system` is refused with 400 "
            "`invalid_parameter` naming the parameter; an `at` outside the years 2 to 9998 with 422 "
            "`validation_failed`."
        ),
        responses={
            200: ResponseSpec(
                DesignatedPlacesOut,
                description="The places, possibly none, in venue-id order",
                generate_examples=False,
            )
        },
        opt={QUERY_OPT: PARAMETERS, PROBLEMS_OPT: (InvalidInput,)},
    )
    async def find_designated_places(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        query = _query(request)
        lon = _coordinate(query, "lon", MIN_LON, MAX_LON, "lat")
        lat = _coordinate(query, "lat", MIN_LAT, MAX_LAT, "lon")
        at = _instant(request, query)
        if _coordinate_system(query) == "gcj02":
            lon, lat = coords.gcj02_to_wgs84(lon, lat)
        state = request.app.state
        places = await index_of(state).find_now(state.sessionmaker, point=geo.point(lon, lat), at=at)
        return ASGIResponse(body=_ENCODER.encode(DesignatedPlacesOut(items=places)), media_type="application/json")
