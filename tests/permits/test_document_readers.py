"""GET /documents/{id} and /content for the departments reviewing an application: its materials are theirs to
read (the submission's and a supplement answer's), logged as a staff read is; a department with no task on it
gets 404 as for an unknown id; the vendor and admins read as before."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import PersonalDataAccess, Vendor
from tests.builders import auth_headers
from tests.permits.builders import APPLICATIONS, PermitCity, decide, make_permit_city, road_application, task_of
from tests.permits.exemption_world import IN_HOURS, INSIDE, make_places, period
from tests.problems import assert_problem
from tests.registry.builders import make_account

DOCUMENTS = "/api/v1/documents"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
MISSING_PLAN = [{"item": "占道平面图", "reason": "需标明摊位尺寸与通道宽度"}]


async def _upload(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(DOCUMENTS, files={"file": ("plan.png", PNG, "image/png")}, headers=headers)
    assert response.status_code == 201, response.text
    document_id: str = response.json()["id"]
    return document_id


async def _reads(session: AsyncSession, vendor: Vendor, path: str) -> list[tuple[uuid.UUID, str, str]]:
    rows = await session.scalars(
        select(PersonalDataAccess)
        .where(PersonalDataAccess.vendor_id == vendor.id, PersonalDataAccess.request_path == path)
        .order_by(PersonalDataAccess.id)
    )
    return [(row.account_id, row.role, row.purpose) for row in rows]


async def test_departments_with_a_task_read_the_submitted_documents_others_get_404(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    places = await make_places(session, settings)
    market = await make_account(session, "department", department_code="market_regulation")
    health = await make_account(session, "department", department_code="health")
    roads = await make_account(session, "department", department_code="urban_management")
    admin = await make_account(session, "admin")
    await session.commit()
    document_id = await _upload(client, places.as_vendor())
    submitted = await client.post(
        APPLICATIONS,
        json={
            "activity_code": "cooked_snacks",
            "location": INSIDE,
            "periods": [period(*IN_HOURS)],
            "document_ids": [document_id],
        },
        headers=places.as_vendor(),
    )
    assert submitted.status_code == 201, submitted.text
    assert {t["department"] for t in submitted.json()["tasks"]} == {"market_regulation", "health"}
    content = f"{DOCUMENTS}/{document_id}/content"

    for reviewer in (market, health):
        meta = await client.get(f"{DOCUMENTS}/{document_id}", headers=auth_headers(settings, reviewer))
        assert meta.status_code == 200, meta.text
        assert meta.json()["media_type"] == "image/png"
    read = await client.get(content, headers=auth_headers(settings, market))
    assert read.status_code == 200, read.text
    assert read.content == PNG
    named = await client.get(content, params={"purpose": "task review"}, headers=auth_headers(settings, health))
    assert named.status_code == 200, named.text

    # A department with no task on the application, and another vendor, see nothing: as for an unknown id.
    for headers in (auth_headers(settings, roads), places.as_vendor(places.other_vendor)):
        assert_problem(await client.get(f"{DOCUMENTS}/{document_id}", headers=headers), 404, "document_not_found")
        assert_problem(await client.get(content, headers=headers), 404, "document_not_found")

    # The vendor's own read is not logged; an admin's still works and is.
    own = await client.get(content, headers=places.as_vendor())
    assert own.status_code == 200, own.text
    by_admin = await client.get(content, headers=auth_headers(settings, admin))
    assert by_admin.status_code == 200, by_admin.text

    assert await _reads(session, places.vendor, content) == [
        (market.id, "department", "permit_review"),
        (health.id, "department", "task review"),
        (admin.id, "admin", "case_handling"),
    ]


async def test_a_supplement_answers_documents_are_read_by_every_reviewing_department(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    city: PermitCity = await make_permit_city(session, settings)
    application: dict[str, Any] = await road_application(client, city)
    asked = await decide(
        client,
        city,
        city.police,
        task_of(application, "traffic_police"),
        "request_supplement",
        note="请补正",
        missing=MISSING_PLAN,
    )
    assert asked.status_code == 200, asked.text
    document_id = await _upload(client, city.as_vendor())
    content = f"{DOCUMENTS}/{document_id}/content"
    # Before the answer cites it, no department may read it.
    assert_problem(await client.get(content, headers=city.as_(city.police)), 404, "document_not_found")

    answered = await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements",
        json={"document_ids": [document_id], "note": "平面图见附件"},
        headers=city.as_vendor(),
    )
    assert answered.status_code == 200, answered.text
    for reviewer in (city.police, city.road_authority):  # the one who asked and the other task's department
        read = await client.get(content, headers=city.as_(reviewer))
        assert read.status_code == 200, read.text
        assert read.content == PNG
    assert_problem(await client.get(content, headers=city.as_(city.market)), 404, "document_not_found")
    assert [(account, role) for account, role, _ in await _reads(session, city.vendor, content)] == [
        (city.police.id, "department"),
        (city.road_authority.id, "department"),
    ]
