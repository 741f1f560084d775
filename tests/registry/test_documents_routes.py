"""Document upload (type by content, size limit) and reads in scope, over HTTP against PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.models import Document, DocumentContent, PersonalDataAccess
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import jurisdiction_code, make_account, make_jurisdiction, make_vendor, vendor_headers

Client = httpx.AsyncClient
URL = "/api/v1/documents"

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def files(content: bytes, filename: str = "evidence.bin", content_type: str = "application/octet-stream") -> Any:
    return {"file": (filename, content, content_type)}


World = SimpleNamespace  # the principals and records one test's scenario needs


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    j1 = await make_jurisdiction(session)
    j2 = await make_jurisdiction(session, code=jurisdiction_code())
    vendor_a = await make_vendor(session, settings, residence_jurisdiction_code=j1.code)
    vendor_b = await make_vendor(session, settings, residence_jurisdiction_code=j1.code)
    staff_j1 = await make_account(session, "street_office", jurisdiction_code=j1.code)
    colleague_j1 = await make_account(session, "street_office", jurisdiction_code=j1.code)
    staff_j2 = await make_account(session, "street_office", jurisdiction_code=j2.code)
    reviewer = await make_account(session, "department", department_code="market_regulation")
    admin = await make_account(session, "admin")
    await session.commit()
    return World(
        a=vendor_a,
        admin=admin,
        colleague_j1=colleague_j1,
        as_colleague_j1=auth_headers(settings, colleague_j1),
        as_a=vendor_headers(settings, vendor_a),
        as_b=vendor_headers(settings, vendor_b),
        staff_j1=staff_j1,
        as_staff_j1=auth_headers(settings, staff_j1),
        as_staff_j2=auth_headers(settings, staff_j2),
        as_reviewer=auth_headers(settings, reviewer),
        as_admin=auth_headers(settings, admin),
    )


@pytest.mark.parametrize(
    ("content", "filename", "declared", "media_type"),
    [
        (PNG, "photo.pdf", "application/pdf", "image/png"),  # the declared type and name are ignored
        (JPEG, "scan.png", "text/plain", "image/jpeg"),
        (PDF, "letter", "image/png", "application/pdf"),
    ],
)
async def test_upload_accepts_pdf_jpeg_png_by_content(
    client: Client,
    session: AsyncSession,
    world: World,
    content: bytes,
    filename: str,
    declared: str,
    media_type: str,
) -> None:
    response = await client.post(URL, files=files(content, filename, declared), headers=world.as_a)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["media_type"] == media_type
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert response.headers["location"] == f"{URL}/{body['id']}"
    document = await session.get(Document, uuid.UUID(body["id"]))
    assert document is not None
    assert document.owner_account_id == world.a.account_id
    stored = await session.scalar(select(DocumentContent.content).where(DocumentContent.document_id == document.id))
    assert stored == content


@pytest.mark.parametrize(
    ("content", "filename", "declared"),
    [
        (b"just some text\n", "x.png", "image/png"),
        (b"", "empty.pdf", "application/pdf"),
        (b"GIF89a" + bytes(32), "anim.gif", "image/gif"),
        (b"\x89PNG\r\n", "truncated.png", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "image/svg+xml"),
    ],
)
async def test_upload_refuses_other_content(
    client: Client, session: AsyncSession, world: World, content: bytes, filename: str, declared: str
) -> None:
    before = await session.scalar(select(func.count()).select_from(Document))
    response = await client.post(URL, files=files(content, filename, declared), headers=world.as_a)
    assert_problem(response, 422, "unsupported_document_type", fields=["file"])
    assert await session.scalar(select(func.count()).select_from(Document)) == before


async def test_upload_size_limit(client: Client, settings: Settings, world: World) -> None:
    limit = settings.http.max_document_bytes
    exact = PNG + bytes(limit - len(PNG))
    response = await client.post(URL, files=files(exact), headers=world.as_a)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == limit
    too_big = exact + b"\x00"
    assert_problem(await client.post(URL, files=files(too_big), headers=world.as_a), 413, "document_too_large")


async def test_upload_far_above_the_limit_is_413_before_parsing(
    client: Client, settings: Settings, world: World
) -> None:
    huge = PNG + bytes(settings.http.max_document_bytes + 200 * 1024)
    response = await client.post(URL, files=files(huge), headers=world.as_a)
    assert_problem(response, 413, "body_too_large")


async def test_upload_needs_a_token_and_a_file(client: Client, session: AsyncSession, world: World) -> None:
    assert_problem(await client.post(URL, files=files(PNG)), 401, "not_authenticated")
    before = await session.scalar(select(func.count()).select_from(Document))
    response = await client.post(URL, files={"other": ("x.png", PNG, "image/png")}, headers=world.as_a)
    assert_problem(response, 422, "validation_failed", fields=["file"])
    assert await session.scalar(select(func.count()).select_from(Document)) == before


async def test_vendors_and_street_offices_upload_departments_and_admins_may_not(client: Client, world: World) -> None:
    # RELIABILITY.md §5: evidence comes from the vendor or their street office; others lack the function.
    for headers in (world.as_a, world.as_staff_j1):
        assert (await client.post(URL, files=files(PDF), headers=headers)).status_code == 201
    for headers in (world.as_reviewer, world.as_admin):
        assert_problem(await client.post(URL, files=files(PDF), headers=headers), 403, "forbidden")


async def test_document_reads_in_scope(client: Client, session: AsyncSession, world: World) -> None:
    created = await client.post(URL, files=files(PNG, "x.png", "image/png"), headers=world.as_a)
    document_id = created.json()["id"]
    meta_url, content_url = f"{URL}/{document_id}", f"{URL}/{document_id}/content"

    for headers in (world.as_a, world.as_staff_j1, world.as_admin):
        meta = await client.get(meta_url, headers=headers)
        assert meta.status_code == 200, meta.text
        assert meta.json()["sha256"] == hashlib.sha256(PNG).hexdigest()
        content = await client.get(content_url, headers=headers)
        assert content.status_code == 200
        assert content.content == PNG
        assert content.headers["content-type"] == "image/png"
        assert content.headers["content-disposition"].startswith("attachment")
        assert content.headers["x-content-type-options"] == "nosniff"

    for headers in (world.as_b, world.as_staff_j2, world.as_reviewer):
        assert_problem(await client.get(meta_url, headers=headers), 404, "document_not_found")
        assert_problem(await client.get(content_url, headers=headers), 404, "document_not_found")
    assert_problem(await client.get(content_url), 401, "not_authenticated")
    assert_problem(await client.get(f"{URL}/{uuid.uuid4()}", headers=world.as_admin), 404, "document_not_found")

    rows = list(
        (
            await session.scalars(
                select(PersonalDataAccess)
                .where(PersonalDataAccess.vendor_id == world.a.id)
                .order_by(PersonalDataAccess.id)
            )
        ).all()
    )
    assert [(r.role, r.fields) for r in rows] == [("street_office", ["document"]), ("admin", ["document"])]
    assert rows[0].account_id == world.staff_j1.id
    assert rows[0].request_path == content_url


async def test_staff_documents_are_readable_by_their_owner_only_and_admin(client: Client, world: World) -> None:
    created = await client.post(URL, files=files(PDF), headers=world.as_staff_j1)
    meta_url = f"{URL}/{created.json()['id']}"
    assert (await client.get(meta_url, headers=world.as_staff_j1)).status_code == 200
    assert (await client.get(meta_url, headers=world.as_admin)).status_code == 200
    # Not yet evidence for anyone: colleagues and vendors do not see it.
    for headers in (world.as_colleague_j1, world.as_staff_j2, world.as_a):
        assert_problem(await client.get(meta_url, headers=headers), 404, "document_not_found")


async def test_evidence_staff_uploaded_for_a_claim_is_seen_by_the_vendor_and_colleagues(
    client: Client, session: AsyncSession, world: World
) -> None:
    created = await client.post(URL, files=files(PDF), headers=world.as_staff_j1)
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    claim = await client.post(
        f"/api/v1/vendors/{world.a.id}/key-group-claims",
        json={
            "group": "employment_difficulty",
            "details": {"category": "minimum_living_allowance", "since": "2024-03-01"},
            "evidence_document_ids": [document_id],
        },
        headers=world.as_staff_j1,
    )
    assert claim.status_code == 201, claim.text
    meta_url, content_url = f"{URL}/{document_id}", f"{URL}/{document_id}/content"
    for headers in (world.as_a, world.as_staff_j1, world.as_colleague_j1, world.as_admin):
        meta = await client.get(meta_url, headers=headers)
        assert meta.status_code == 200, meta.text
        content = await client.get(content_url, headers=headers)
        assert content.status_code == 200, content.text
        assert content.content == PDF
    for headers in (world.as_b, world.as_staff_j2, world.as_reviewer):
        assert_problem(await client.get(meta_url, headers=headers), 404, "document_not_found")
        assert_problem(await client.get(content_url, headers=headers), 404, "document_not_found")
    # The colleague's and the admin's reads are logged against the vendor the evidence is about.
    rows = list(
        (
            await session.scalars(
                select(PersonalDataAccess)
                .where(PersonalDataAccess.vendor_id == world.a.id)
                .order_by(PersonalDataAccess.id)
            )
        ).all()
    )
    document_reads = [(r.account_id, r.fields) for r in rows if r.request_path == content_url]
    assert document_reads == [(world.colleague_j1.id, ["document"]), (world.admin.id, ["document"])]
