"""The key-group verification pages: who sees them, and that what they show is written to the access log as the
API's reads are (the queue, the claim, each evidence document's preview)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from html import unescape
from typing import get_args

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from flexreg import demo_evidence
from flexreg.console import i18n
from flexreg.console.claims import STATUS_FILTERS
from registry import claims, documents
from registry import entitlements as rules
from registry.accounts import principal_for
from registry.models import Account, PersonalDataAccess, Vendor
from registry.policies import KEY_GROUPS
from tests.clock import TODAY
from tests.registry.builders import PASSWORD, make_account, make_claim, make_jurisdiction, make_vendor

_FORM_TOKEN = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_CONTENT_URL = re.compile(r'(?:src|data-src)="(/api/v1/documents/[0-9a-f-]+/content\?[^"]+)"')


@dataclass
class Office:
    staff: Account
    vendor: Vendor
    claim_id: uuid.UUID
    document_ids: list[uuid.UUID]


async def _office(session: AsyncSession, settings: Settings) -> Office:
    """A street office with one resident whose pending claim cites an image and a PDF they uploaded."""
    jurisdiction = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=jurisdiction.code)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=jurisdiction.code)
    account = await session.get(Account, vendor.account_id)
    assert account is not None
    claimant = principal_for(account, vendor.id)
    evidence = await demo_evidence.upload_evidence(
        session, claimant, group="laid_off_unemployed", max_bytes=settings.http.max_document_bytes
    )
    record = await claims.submit_claim(
        session,
        claimant,
        vendor_id=vendor.id,
        group="laid_off_unemployed",
        details={"registered_unemployed_since": "2026-01-10"},
        evidence_document_ids=evidence,
        today=TODAY,
        now=settings.now(),
    )
    return Office(staff=staff, vendor=vendor, claim_id=record.id, document_ids=evidence)


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/console")
    token = _FORM_TOKEN.search(form.text)
    assert token is not None
    response = await client.post(
        "/console/sign-in", data={"csrf": token.group(1), "username": username, "password": PASSWORD}
    )
    assert response.status_code == 303


async def _log(session: AsyncSession, vendor: Vendor) -> list[PersonalDataAccess]:
    rows = await session.scalars(
        select(PersonalDataAccess).where(PersonalDataAccess.vendor_id == vendor.id).order_by(PersonalDataAccess.id)
    )
    return list(rows)


async def test_viewing_a_claim_writes_the_access_log_as_the_api_does(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    await _sign_in(client, office.staff.username)
    assert await _log(session, office.vendor) == []

    response = await client.get(f"/console/claims/{office.claim_id}")

    assert response.status_code == 200
    assert office.vendor.id_number_masked in response.text
    rows = await _log(session, office.vendor)
    assert [(row.account_id, row.role, row.request_path) for row in rows] == [
        (office.staff.id, "street_office", f"/console/claims/{office.claim_id}")
    ]
    assert rows[0].fields == list(claims.ACCESS_FIELDS)
    assert str(office.claim_id) in rows[0].purpose


async def test_each_evidence_preview_is_read_through_the_api_and_logged(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    await _sign_in(client, office.staff.username)
    page = await client.get(f"/console/claims/{office.claim_id}")
    urls = list(dict.fromkeys(unescape(url) for url in _CONTENT_URL.findall(page.text)))
    assert [url.split("/")[4] for url in urls] == [str(document_id) for document_id in office.document_ids]
    before = len(await _log(session, office.vendor))

    answers = [await client.get(url) for url in urls]

    assert [(answer.status_code, answer.headers["content-type"]) for answer in answers] == [
        (200, "image/png"),
        (200, "application/pdf"),
    ]
    rows = (await _log(session, office.vendor))[before:]
    assert [(row.account_id, row.fields, row.request_path) for row in rows] == [
        (office.staff.id, ["document"], f"/api/v1/documents/{document_id}/content")
        for document_id in office.document_ids
    ]
    assert all(str(office.claim_id) in row.purpose for row in rows)


async def test_the_queue_lists_the_offices_pending_claims_and_logs_them(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    decided = await make_claim(session, office.vendor, group="college_graduate", status="rejected")
    elsewhere = await _office(session, settings)
    await _sign_in(client, office.staff.username)

    pending = await client.get("/console/claims")
    everything = await client.get("/console/claims?status=all")

    assert pending.status_code == 200
    assert f'data-claim-id="{office.claim_id}"' in pending.text
    assert f'data-claim-id="{decided.id}"' not in pending.text
    assert f'data-claim-id="{elsewhere.claim_id}"' not in pending.text
    assert f'data-claim-id="{decided.id}"' in everything.text
    rows = await _log(session, office.vendor)
    assert {row.request_path for row in rows} == {"/console/claims"}
    assert await _log(session, elsewhere.vendor) == []


async def test_another_offices_claim_is_the_not_found_page_and_logs_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    elsewhere = await _office(session, settings)
    await _sign_in(client, office.staff.username)

    response = await client.get(f"/console/claims/{elsewhere.claim_id}")
    content = await client.get(f"/api/v1/documents/{elsewhere.document_ids[0]}/content")

    assert response.status_code == 404
    assert content.status_code == 404
    assert await _log(session, elsewhere.vendor) == []


async def test_a_department_gets_the_forbidden_page_and_the_signed_out_the_sign_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    signed_out = [await client.get(path) for path in ("/console/claims", f"/console/claims/{office.claim_id}")]
    reviewer = await make_account(session, "department", department_code="market_regulation")
    await _sign_in(client, reviewer.username)
    department = [await client.get(path) for path in ("/console/claims", f"/console/claims/{office.claim_id}")]

    assert [(answer.status_code, answer.headers.get("location")) for answer in signed_out] == [(302, "/console")] * 2
    assert [answer.status_code for answer in department] == [403, 403]
    assert await _log(session, office.vendor) == []


async def test_an_admin_sees_the_claim_without_the_decision_form(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    admin = await make_account(session, "admin")
    await _sign_in(client, admin.username)

    response = await client.get(f"/console/claims/{office.claim_id}")

    assert response.status_code == 200
    assert 'id="claim-decision"' not in response.text
    assert 'id="id-number-reveal"' not in response.text  # the API refuses admins a reveal: not offered
    assert [row.role for row in await _log(session, office.vendor)] == ["admin"]


_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


async def test_the_office_may_reveal_the_full_id_number_from_the_page_through_the_api(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The page offers the reveal (its form names the vendor and prefills the claim as purpose); the page's
    script sends it with the session cookie and CSRF token, and the API answers and logs it."""
    office = await _office(session, settings)
    await _sign_in(client, office.staff.username)
    page = await client.get(f"/console/claims/{office.claim_id}")
    assert f'<form id="id-number-reveal" data-vendor-id="{office.vendor.id}"' in page.text
    assert "/console/static/reveal.js" in page.text
    token = _META_TOKEN.search(page.text)
    assert token is not None
    before = len(await _log(session, office.vendor))

    purpose = f"review key-group claim {office.claim_id}"
    assert f'value="{purpose}"' in page.text
    reveal = await client.post(
        f"/api/v1/vendors/{office.vendor.id}/id-number-reveals",
        json={"purpose": purpose},
        headers={"X-CSRF-Token": token.group(1)},
    )

    assert reveal.status_code == 200, reveal.text
    assert reveal.json()["id_number"][-4:] == office.vendor.id_number_masked[-4:]
    [row] = (await _log(session, office.vendor))[before:]
    assert (row.account_id, row.fields, row.purpose) == (office.staff.id, ["id_number"], purpose)
    script = await client.get("/console/static/reveal.js")
    assert script.status_code == 200
    assert "id-number-reveals" in script.text


async def test_an_unknown_status_filter_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    await _sign_in(client, office.staff.username)
    response = await client.get("/console/claims?status=maybe")
    assert response.status_code == 400


async def test_the_pages_speak_english_on_request_with_no_message_missing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    office = await _office(session, settings)
    await _sign_in(client, office.staff.username)
    for path in ("/console/claims?lang=en", f"/console/claims/{office.claim_id}?lang=en"):
        response = await client.get(path)
        assert response.status_code == 200
        main = response.text.split("<main", 1)[1].split("</main>", 1)[0]
        assert re.findall(r">[^<]*\bclaims?_[a-z_]+", main) == []
    assert "Key-group claim: Registered unemployed" in response.text
    assert "Left empty, the policy's default term applies: 12 months" in unescape(response.text)


def test_the_keys_built_from_enums_cover_every_value() -> None:
    wanted = {f"claim_status_{status}" for status in STATUS_FILTERS}
    wanted |= {f"claim_group_{group}" for group in KEY_GROUPS}
    wanted |= {f"claim_detail_{name}" for shape in rules.DETAILS_TYPES.values() for name in shape.__struct_fields__}
    wanted |= {f"claim_category_{category}" for category in get_args(rules.DifficultyCategory)}
    assert sorted(wanted - set(i18n.MESSAGES)) == []


def test_the_demo_evidence_is_what_the_registry_accepts() -> None:
    assert documents.sniff_media_type(demo_evidence.sample_png("x")) == "image/png"
    pdf = demo_evidence.sample_pdf(["one line (with brackets)"])
    assert documents.sniff_media_type(pdf) == "application/pdf"
    assert pdf.rstrip().endswith(b"%%EOF")
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[start:].startswith(b"xref")
