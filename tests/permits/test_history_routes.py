"""GET /history-anchors: public, paginated, each anchor verifiable with nothing but its signer's public key."""

from __future__ import annotations

import datetime as dt

import httpx
import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.pagination import Page
from permits import anchors
from permits.history_verify import verify_history
from tests.clock import START
from tests.permits.history_builders import LocalSigner, append_rows
from tests.problems import assert_problem

PATH = "/api/v1/history-anchors"


async def test_anchors_are_published_to_anyone(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    signer = LocalSigner()
    async with sessionmaker() as session:
        for day in range(13, 16):
            await append_rows(session, 2)
            await anchors.publish_anchor(session, signer, now=START.replace(day=day), timezone="Asia/Shanghai")
        await session.commit()

    first = await client.get(PATH, params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [item["day"] for item in body["items"]] == ["2026-06-13", "2026-06-14"]
    assert [item["seq"] for item in body["items"]] == [2, 4]
    rest = await client.get(PATH, params={"limit": 2, "cursor": body["next_cursor"]})
    assert [item["day"] for item in rest.json()["items"]] == ["2026-06-15"]
    assert rest.json()["next_cursor"] is None

    # What a keeper of copies does: decode the page, check each signature, verify the history against them.
    page = msgspec.json.decode(first.content, type=Page[anchors.Anchor])
    assert all(anchors.signature_holds(anchor, signer.public_key) for anchor in page.items)
    async with sessionmaker() as session:
        verdict = await verify_history(session, anchors=page.items, public_keys={signer.kid: signer.public_key})
    assert verdict.intact
    assert verdict.rows == 6
    assert verdict.anchors_checked == 2


async def test_an_empty_list_and_a_forged_cursor(client: httpx.AsyncClient) -> None:
    empty = await client.get(PATH)
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "next_cursor": None}
    assert_problem(await client.get(PATH, params={"cursor": "A" * 32}), 422, "invalid_cursor")
    assert_problem(await client.get(PATH, params={"limit": 0}), 400, "invalid_parameter")


async def test_one_anchor_per_city_day(session: AsyncSession) -> None:
    signer = LocalSigner()
    assert await anchors.publish_anchor(session, signer, now=START, timezone="Asia/Shanghai") is None  # empty
    await append_rows(session, 1)
    # 2026-06-15 00:30 in the city is still 06-14 in UTC: the city's day counts.
    just_after_midnight = dt.datetime(2026, 6, 14, 16, 30, tzinfo=dt.UTC)
    published = await anchors.publish_anchor(session, signer, now=just_after_midnight, timezone="Asia/Shanghai")
    assert published is not None
    assert published.day == dt.date(2026, 6, 15)
    assert published.seq == 1
    await append_rows(session, 1)
    assert await anchors.publish_anchor(session, signer, now=START, timezone="Asia/Shanghai") is None
    tomorrow = await anchors.publish_anchor(session, signer, now=START + dt.timedelta(days=1), timezone="Asia/Shanghai")
    assert tomorrow is not None
    assert tomorrow.seq == 2
    assert tomorrow.kid == signer.kid
    assert anchors.signature_holds(tomorrow, signer.public_key)
    assert not anchors.signature_holds(tomorrow, LocalSigner().public_key)
    moved = msgspec.structs.replace(tomorrow, seq=1)
    assert not anchors.signature_holds(moved, signer.public_key)
