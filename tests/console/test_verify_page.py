"""/verify/{number} without a browser: what the server renders, and never more than GET /permits/{number} shows."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from permits.issuance import PermitPlace, new_permit_number
from tests.permits.issued_builders import EVENING, ID_NUMBER, MARKET, make_permit

HOSTILE = '</script><script>alert("x")</script>'


async def test_the_page_shows_the_permit_in_large_type_with_its_facts(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    answer = await client.get(f"/verify/{issued.permit.number.lower()}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-language"] == "zh"
    page = answer.text
    assert 'class="status status-valid"' in page
    assert ">有效<" in page
    for fact in (issued.permit.number, "王**", "002X", "现场制作熟食小吃", "东华门早市 A-07", "每天 06:00–09:00"):
        assert fact in page, fact
    assert "2026-06-16" in page
    assert "2026-12-31" in page
    assert "经营时段结束后30分钟内清理摊位" in page
    assert "/console/static/verify.js" in page
    # The token is not on the page: it reaches the page only in the link's fragment, which is never sent.
    assert issued.permit.token not in page


async def test_a_periods_permit_shows_its_hours_in_the_city_and_english_on_request(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings, hours=EVENING)
    await session.commit()
    answer = await client.get(f"/verify/{issued.permit.number}", params={"lang": "en"})
    assert answer.status_code == 200, answer.text
    assert "2026-06-20 18:00–22:00" in answer.text
    assert ">Valid<" in answer.text
    assert "Permit verification" in answer.text
    assert "flexreg_lang=en" in answer.headers.get("set-cookie", "")


async def test_an_unknown_or_mistyped_number_is_a_404_page(client: httpx.AsyncClient) -> None:
    for number in (new_permit_number(2026), "XK-2026-NOTANUMBER", "11010119900307002X"):
        answer = await client.get(f"/verify/{number}")
        assert answer.status_code == 404, number
        assert answer.headers["content-type"].startswith("text/html")
        assert "没有这个编号的许可证" in answer.text
        assert number not in answer.text


async def test_what_a_messaging_app_appends_to_the_link_is_ignored(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    link = f"/verify/{issued.permit.number}?from=singlemessage&isappinstalled=0&lang=en&lang=zh"
    answer = await client.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert issued.permit.number in answer.text


async def test_what_the_page_shows_is_escaped(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    place = PermitPlace(name=HOSTILE, venue_id=MARKET.venue_id, pitch_label='"><img src=x onerror=alert(1)>')
    issued = await make_permit(session, settings, place=place)
    await session.commit()
    page = (await client.get(f"/verify/{issued.permit.number}")).text
    assert HOSTILE not in page
    assert "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;" in page
    # One script block of data, and it cannot be closed early by anything in it.
    assert page.count("</script>") == 2  # the JSON data block and verify.js


async def test_the_page_shows_no_id_number_phone_or_name(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    issued = await make_permit(session, settings)
    await session.commit()
    page = (await client.get(f"/verify/{issued.permit.number}")).text
    assert ID_NUMBER not in page
    assert ID_NUMBER[:6] not in page
    assert "王秀英" not in page
    assert not re.search(r"1[3-9][0-9]\*{4}[0-9]{4}|1[3-9][0-9]{9}", page)
    assert "key_group" not in page
    assert "green_channel" not in page


async def test_the_shell_and_service_worker_need_no_permit(client: httpx.AsyncClient) -> None:
    shell = await client.get("/verify/shell", params={"lang": "en"})
    assert shell.status_code == 200
    assert shell.headers["content-language"] == "en"
    assert "set-cookie" not in shell.headers  # fetched by the worker for both languages
    assert 'id="facts"' in shell.text
    worker = await client.get("/verify/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/verify/"
    assert "/verify/shell?lang=zh" in worker.text
