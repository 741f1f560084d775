"""POST /vendors/{id}/id-number-reveals: who may see a full ID number, and the chained log row each reveal writes
(RELIABILITY.md T-P4)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.idempotency_keys import IdempotencyKey
from core.request_log import HEADER as REQUEST_ID
from core.settings import Settings
from registry.access_log import purpose_digest, verify_access_log
from registry.models import PersonalDataAccess, Vendor
from tests.builders import auth_headers, id_number
from tests.problems import assert_problem
from tests.registry.builders import make_account, make_jurisdiction, make_vendor, vendor_headers

Client = httpx.AsyncClient
NUMBER = id_number()


def url(vendor_id: uuid.UUID) -> str:
    return f"/api/v1/vendors/{vendor_id}/id-number-reveals"


async def access_rows(session: AsyncSession, vendor_id: uuid.UUID) -> list[PersonalDataAccess]:
    query = select(PersonalDataAccess).where(PersonalDataAccess.vendor_id == vendor_id).order_by(PersonalDataAccess.seq)
    return list((await session.scalars(query)).all())


@pytest.fixture
async def vendor(session: AsyncSession, settings: Settings) -> Vendor:
    home = await make_jurisdiction(session)
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=home.code, id_number=NUMBER)
    await session.commit()
    return vendor


async def staff_headers(session: AsyncSession, settings: Settings, jurisdiction_code: str) -> dict[str, str]:
    staff = await make_account(session, "street_office", jurisdiction_code=jurisdiction_code)
    return auth_headers(settings, staff)


async def test_the_home_street_office_sees_the_number_and_one_chained_row_records_it(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor
) -> None:
    staff = await make_account(session, "street_office", jurisdiction_code=vendor.residence_jurisdiction_code)
    purpose = "案件 2026-0042: 核对身份"
    response = await client.post(url(vendor.id), json={"purpose": purpose}, headers=auth_headers(settings, staff))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id_number"] == NUMBER
    assert body["vendor_id"] == str(vendor.id)
    assert response.headers["cache-control"] == "no-store"

    [row] = await access_rows(session, vendor.id)
    assert (row.account_id, row.role, row.fields, row.purpose) == (staff.id, "street_office", ["id_number"], purpose)
    assert row.request_id == response.headers[REQUEST_ID]
    assert row.request_path == url(vendor.id)
    assert row.accessed_at == settings.now()
    assert body["access_seq"] == row.seq
    assert row.purpose_salt is not None
    assert purpose_digest(row.purpose_salt, purpose) == row.purpose_digest
    assert (await verify_access_log(session)).intact


@pytest.mark.parametrize(
    "body", [{}, {"purpose": ""}, {"purpose": "   "}, {"purpose": " \u3000 "}, {"purpose": "x" * 201}]
)
async def test_a_reveal_without_a_purpose_is_a_422_naming_it_and_logs_nothing(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor, body: dict[str, str]
) -> None:
    headers = await staff_headers(session, settings, vendor.residence_jurisdiction_code)
    response = await client.post(url(vendor.id), json=body, headers=headers)
    assert_problem(response, 422, "validation_failed", fields=["purpose"])
    assert NUMBER not in response.text
    assert await access_rows(session, vendor.id) == []


async def test_another_street_office_gets_404_as_for_an_unknown_vendor(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor
) -> None:
    elsewhere = await make_jurisdiction(session)
    headers = await staff_headers(session, settings, elsewhere.code)
    other = await client.post(url(vendor.id), json={"purpose": "curious"}, headers=headers)
    unknown = await client.post(url(uuid.uuid4()), json={"purpose": "curious"}, headers=headers)
    assert_problem(other, 404, "vendor_not_found")
    assert_problem(unknown, 404, "vendor_not_found")
    assert other.json()["detail"] == unknown.json()["detail"]
    assert NUMBER not in other.text
    assert await access_rows(session, vendor.id) == []


@pytest.mark.parametrize("role", ["vendor_self", "department", "admin"])
async def test_vendors_departments_and_admins_are_refused_403(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor, role: str
) -> None:
    if role == "vendor_self":
        headers = vendor_headers(settings, vendor)
    elif role == "department":
        headers = auth_headers(settings, await make_account(session, "department", department_code="health"))
    else:
        headers = auth_headers(settings, await make_account(session, "admin"))
    response = await client.post(url(vendor.id), json={"purpose": "audit"}, headers=headers)
    assert_problem(response, 403, "forbidden")
    assert NUMBER not in response.text
    assert await access_rows(session, vendor.id) == []


async def test_without_a_token_it_is_401(client: Client, vendor: Vendor) -> None:
    response = await client.post(url(vendor.id), json={"purpose": "audit"})
    assert response.status_code == 401


async def test_the_service_refuses_a_blank_purpose_before_decrypting(
    session: AsyncSession, settings: Settings, vendor: Vendor
) -> None:
    from core.crypto import FieldCipher
    from core.errors import InvalidInput
    from registry.reveals import reveal_id_number

    staff = await make_account(session, "street_office", jurisdiction_code=vendor.residence_jurisdiction_code)
    principal = Principal(account_id=staff.id, role="street_office", jurisdiction_code=staff.jurisdiction_code)
    with pytest.raises(InvalidInput):
        await reveal_id_number(
            session,
            FieldCipher(settings.data.data_key),
            principal,
            vendor.id,
            purpose="\n",
            request_path="/x",
            request_id=None,
            now=settings.now(),
        )
    assert await access_rows(session, vendor.id) == []


async def test_a_purpose_holding_an_id_number_is_refused(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor
) -> None:
    """The log keeps purposes for years; an ID number typed into one (even fullwidth) would outlive every mask."""
    headers = await staff_headers(session, settings, vendor.residence_jurisdiction_code)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in NUMBER)
    for purpose in (f"核对 {NUMBER}", f"核对{wide}"):
        response = await client.post(url(vendor.id), json={"purpose": purpose}, headers=headers)
        assert_problem(response, 422, "validation_failed", fields=["purpose"])
        assert NUMBER not in response.text
    assert await access_rows(session, vendor.id) == []


async def test_a_reveal_is_never_stored_for_replay(
    client: Client, session: AsyncSession, settings: Settings, vendor: Vendor
) -> None:
    """With an Idempotency-Key, the no-store answer is not kept (the key table would hold the number for a day):
    a retry reveals again, and is logged again."""
    headers = {
        **(await staff_headers(session, settings, vendor.residence_jurisdiction_code)),
        "Idempotency-Key": "reveal-1",
    }
    first = await client.post(url(vendor.id), json={"purpose": "案件 7"}, headers=headers)
    again = await client.post(url(vendor.id), json={"purpose": "案件 7"}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "idempotent-replayed" not in again.headers
    assert [row.seq for row in await access_rows(session, vendor.id)] == [
        first.json()["access_seq"],
        again.json()["access_seq"],
    ]
    stored = await session.scalar(
        select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.key == "reveal-1")
    )
    assert stored == 0
