"""GET /permits/{number} and its QR codes: what anyone sees of a permit, and never more."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import httpx
import jwt
import pytest
import segno
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from permits import issuance, qr
from permits.issuance import new_permit_number, normalise_permit_number
from registry.errors import VendorNotFound
from registry.models import Vendor
from tests.clock import city_time
from tests.permits.issued_builders import EVENING, ID_NUMBER, ROAD, component, make_holder, make_permit
from tests.problems import assert_problem


def test_numbers_are_random_checked_and_not_sequential() -> None:
    numbers = [new_permit_number(2026) for _ in range(200)]
    assert len(set(numbers)) == 200
    for number in numbers:
        assert re.fullmatch(r"XK-2026-[0-9A-HJKMNP-TV-Z]{17}", number), number
        assert normalise_permit_number(number.lower()) == number
    # One character changed (or two swapped) is told apart from a real number by its check character.
    number = numbers[0]
    body = number[8:]
    changed = number[:8] + ("1" if body[0] != "1" else "2") + body[1:]
    swapped = number[:8] + body[1] + body[0] + body[2:]
    assert normalise_permit_number(changed) is None
    if body[0] != body[1]:
        assert normalise_permit_number(swapped) is None
    assert normalise_permit_number("XK-2026-0000000000000001") is None
    assert normalise_permit_number("1") is None


async def test_anyone_reads_a_permit_with_its_status_and_token(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings, components=[component(), component("health", "health_certificate")])
    await session.commit()
    answer = await client.get(f"/api/v1/permits/{issued.permit.number.lower()}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"1"'
    body = answer.json()
    assert body["number"] == issued.permit.number
    assert body["status"] == "valid"
    assert (body["holder_masked"], body["id_last4"]) == ("王**", "002X")
    assert (body["activity"], body["activity_name"]) == ("cooked_snacks", "现场制作熟食小吃")
    assert body["place"]["pitch_label"] == "A-07"
    assert body["hours"]["schedule"][0]["start"] == "06:00"
    assert (body["valid_from"], body["valid_to"]) == ("2026-06-16", "2026-12-31")
    assert body["conditions"] == ["经营时段结束后30分钟内清理摊位"]
    assert body["departments"] == ["health", "market_regulation"]  # by code, as the token lists them
    assert [c["status"] for c in body["components"]] == ["valid", "valid"]
    assert body["token"] == issued.permit.token
    assert body["verification_url"] == f"{settings.http.public_url}/verify/{issued.permit.number}#{issued.permit.token}"
    assert issued.permit.verification_url == body["verification_url"]


async def test_a_permit_shows_no_id_number_phone_or_key_group(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    text = (await client.get(f"/api/v1/permits/{issued.permit.number}")).text
    assert ID_NUMBER not in text
    assert ID_NUMBER[:6] + "********" not in text
    assert "王秀英" not in text
    assert not re.search(r"1[3-9][0-9]\*{4}[0-9]{4}|1[3-9][0-9]{9}", text)  # a phone, masked or not
    assert "key_group" not in text
    assert "green_channel" not in text


async def test_a_road_permit_carries_its_footprint_and_periods(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(
        session,
        settings,
        place=ROAD,
        hours=EVENING,
        components=[component("urban_management", "road_occupancy"), component("traffic_police", "road_occupancy")],
    )
    await session.commit()
    body = (await client.get(f"/api/v1/permits/{issued.permit.number}")).json()
    assert body["place"]["geometry"]["type"] == "Polygon"
    assert body["hours"]["periods"] == [{"start": "2026-06-20T18:00:00+08:00", "end": "2026-06-20T22:00:00+08:00"}]
    claims = jwt.decode(issued.permit.token, options={"verify_signature": False})
    assert claims["place"]["bbox"] == [116.4045, 39.9146, 116.4046, 39.9147]
    assert claims["departments"] == ["traffic_police", "urban_management"]


@pytest.mark.parametrize("number", ["XK-2026-7KRNM02KESXYF4GC8", "XK-2026-7KRNM02KESXYF4GC9", "nothing", "1" * 64])
async def test_an_unknown_number_is_not_found(client: httpx.AsyncClient, number: str) -> None:
    for path in ("", "/qr.png", "/qr.svg"):
        assert_problem(await client.get(f"/api/v1/permits/{number}{path}"), 404, "permit_not_found")


async def test_a_permit_expires_after_its_validity_or_a_components(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    short = component("health", "health_certificate", valid_to=dt.date(2026, 9, 30))
    issued = await make_permit(session, settings, components=[component(), short])
    await session.commit()
    url = f"/api/v1/permits/{issued.permit.number}"
    clock.set(city_time(2026, 9, 30, 23, 59))
    assert (await client.get(url)).json()["status"] == "valid"
    clock.set(city_time(2026, 10, 1, 0, 1))
    body = (await client.get(url)).json()
    assert body["status"] == "expired"
    assert [(c["department"], c["status"]) for c in body["components"]] == [
        ("health", "expired"),
        ("market_regulation", "valid"),
    ]
    # The token expires with the earliest component: a scanner offline reaches the same answer.
    claims = jwt.decode(issued.permit.token, options={"verify_signature": False})
    assert claims["exp"] == int(city_time(2026, 10, 1, 0, 0).timestamp())


async def test_qr_codes_encode_the_verification_link(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    link = issued.permit.verification_url
    png = await client.get(f"/api/v1/permits/{issued.permit.number}/qr.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.content == qr.png(link)  # the same link always gives the same image
    svg = await client.get(f"/api/v1/permits/{issued.permit.number}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content == qr.svg(link, title=f"Permit {issued.permit.number}")
    assert b"<svg" in svg.content
    assert issued.permit.number.encode() in svg.content
    # The modules are those of the link and nothing else: another token gives another code.
    assert segno.make(link, error="m", micro=False).matrix != segno.make(link + "x", error="m", micro=False).matrix
    assert qr.png(link) != qr.png(issuance.verification_url(settings.http.public_url, issued.permit.number, "x"))


async def test_the_link_uses_the_configured_public_url(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    assert issued.permit.verification_url.startswith(f"{settings.http.public_url}/verify/XK-")
    assert "#" in issued.permit.verification_url
    assert "?" not in issued.permit.verification_url
    keys = {"FLEXREG_SECRET_KEY": "k" * 32, "FLEXREG_DATA_KEY": "d" * 32}
    configured = Settings.from_env({"FLEXREG_PUBLIC_URL": "https://flexreg.example.cn/city/", **keys})
    assert configured.http.public_url == "https://flexreg.example.cn/city"
    with pytest.raises(ValueError, match="FLEXREG_PUBLIC_URL"):
        Settings.from_env({"FLEXREG_PUBLIC_URL": "ftp://x", **keys})


async def test_issuing_needs_a_known_vendor_components_and_ordered_dates(
    session: AsyncSession, settings: Settings
) -> None:
    holder = await make_holder(session, settings)
    with pytest.raises(ValueError, match="component"):
        await make_permit(session, settings, vendor=holder, components=[])
    with pytest.raises(ValueError, match="valid_to"):
        await make_permit(
            session, settings, vendor=holder, valid_from=dt.date(2026, 7, 1), valid_to=dt.date(2026, 6, 30)
        )
    with pytest.raises(VendorNotFound):
        await make_permit(session, settings, vendor=Vendor(id=uuid.uuid4()))
