"""Key-group claims, decisions and entitlements over HTTP against PostgreSQL: every refusal, and expiry."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import FixedClock
from core.settings import Settings
from registry import claims as service
from registry.entitlements import add_months
from registry.models import (
    Account,
    KeyGroupClaim,
    KeyGroupClaimEvidence,
    KeyGroupDecision,
    PersonalDataAccess,
    Vendor,
)
from registry.policies import registration_rules
from tests.builders import NEIGHBOUR_SQUARE, auth_headers
from tests.clock import TODAY, city_time
from tests.problems import assert_problem
from tests.registry.builders import (
    make_account,
    make_claim,
    make_document,
    make_jurisdiction,
    make_vendor,
    vendor_headers,
)

Client = httpx.AsyncClient
CLAIMS = "/api/v1/key-group-claims"


@dataclass
class World:
    settings: Settings
    vendor: Vendor  # lives in jurisdiction A
    other_vendor: Vendor  # lives in jurisdiction B
    staff: Account  # street office of A
    other_staff: Account  # street office of B
    admin: Account
    department: Account

    def as_vendor(self, vendor: Vendor | None = None) -> dict[str, str]:
        return vendor_headers(self.settings, vendor or self.vendor)

    def as_(self, account: Account) -> dict[str, str]:
        return auth_headers(self.settings, account)


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    a = await make_jurisdiction(session)
    b = await make_jurisdiction(session, boundary=NEIGHBOUR_SQUARE, min_lon=116.42, max_lon=116.44)
    world = World(
        settings=settings,
        vendor=await make_vendor(session, settings, residence_jurisdiction_code=a.code),
        other_vendor=await make_vendor(session, settings, residence_jurisdiction_code=b.code),
        staff=await make_account(session, "street_office", jurisdiction_code=a.code),
        other_staff=await make_account(session, "street_office", jurisdiction_code=b.code),
        admin=await make_account(session, "admin"),
        department=await make_account(session, "department", department_code="human_resources"),
    )
    await session.commit()
    return world


def graduate_claim(**overrides: Any) -> dict[str, Any]:
    """A graduate's claim body, graduated 30 days before the tests' start date (also used in parametrize)."""
    body: dict[str, Any] = {
        "group": "college_graduate",
        "details": {"graduation_on": (TODAY - dt.timedelta(days=30)).isoformat(), "institution": "北京大学"},
        "evidence_document_ids": [],
    }
    body.update(overrides)
    return body


def claims_url(vendor: Vendor) -> str:
    return f"/api/v1/vendors/{vendor.id}/key-group-claims"


async def claim_count(session: AsyncSession, vendor: Vendor) -> int:
    return int(await session.scalar(select(func.count()).where(KeyGroupClaim.vendor_id == vendor.id)) or 0)


# --- submitting -----------------------------------------------------------------------------------------------


async def test_vendor_submits_claim_with_own_evidence(client: Client, session: AsyncSession, world: World) -> None:
    documents = [await make_document(session, owner_account_id=world.vendor.account_id) for _ in range(2)]
    await session.commit()
    ids = [str(document.id) for document in documents]
    response = await client.post(
        claims_url(world.vendor), json=graduate_claim(evidence_document_ids=[*ids, ids[0]]), headers=world.as_vendor()
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["group"] == "college_graduate"
    assert body["vendor_id"] == str(world.vendor.id)
    assert body["details"]["institution"] == "北京大学"
    assert body["evidence_document_ids"] == ids  # duplicates collapse, order kept
    assert body["valid_until"] is None
    assert response.headers["location"] == f"/api/v1/key-group-claims/{body['id']}"
    assert response.headers["etag"] == '"1"'
    stored = await session.scalars(
        select(KeyGroupClaimEvidence.document_id).where(KeyGroupClaimEvidence.claim_id == uuid.UUID(body["id"]))
    )
    assert sorted(map(str, stored)) == sorted(ids)
    claim = await session.get(KeyGroupClaim, uuid.UUID(body["id"]))
    assert claim is not None
    assert claim.jurisdiction_code == world.vendor.residence_jurisdiction_code
    assert claim.submitted_by == world.vendor.account_id


async def test_claim_without_evidence_is_accepted_as_a_commitment(
    client: Client, session: AsyncSession, world: World
) -> None:
    body = {"group": "migrant_worker", "details": {}}
    response = await client.post(claims_url(world.vendor), json=body, headers=world.as_vendor())
    assert response.status_code == 201, response.text
    assert response.json()["evidence_document_ids"] == []


async def test_staff_submit_on_behalf_with_documents_they_uploaded(
    client: Client, session: AsyncSession, world: World
) -> None:
    uploaded_by_staff = await make_document(session, owner_account_id=world.staff.id)
    await session.commit()
    body = {
        "group": "employment_difficulty",
        "details": {"category": "minimum_living_allowance", "since": "2024-03-01"},
        "evidence_document_ids": [str(uploaded_by_staff.id)],
    }
    response = await client.post(claims_url(world.vendor), json=body, headers=world.as_(world.staff))
    assert response.status_code == 201, response.text
    claim = await session.get(KeyGroupClaim, uuid.UUID(response.json()["id"]))
    assert claim is not None
    assert claim.submitted_by == world.staff.id


async def test_submit_refused_out_of_scope(client: Client, session: AsyncSession, world: World) -> None:
    # Another vendor, or staff of another jurisdiction: 404, nothing written.
    response = await client.post(claims_url(world.other_vendor), json=graduate_claim(), headers=world.as_vendor())
    assert_problem(response, 404, "vendor_not_found")
    response = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=world.as_(world.other_staff))
    assert_problem(response, 404, "vendor_not_found")
    response = await client.post(
        f"/api/v1/vendors/{uuid.uuid4()}/key-group-claims", json=graduate_claim(), headers=world.as_(world.staff)
    )
    assert_problem(response, 404, "vendor_not_found")
    assert await claim_count(session, world.vendor) == 0
    assert await claim_count(session, world.other_vendor) == 0


async def test_submit_refused_for_wrong_roles_and_without_token(client: Client, world: World) -> None:
    for account in (world.admin, world.department):
        response = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=world.as_(account))
        assert_problem(response, 403, "forbidden")
    response = await client.post(claims_url(world.vendor), json=graduate_claim())
    assert_problem(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (graduate_claim(extra=1), "extra"),
        (graduate_claim(group="retired"), "group"),
        (graduate_claim(details="2024-06-30"), "details"),
        (graduate_claim(evidence_document_ids=["not-a-uuid"]), "evidence_document_ids[0]"),
        (graduate_claim(details={"graduation_on": "2024-06-31"}), "details.graduation_on"),
        (graduate_claim(details={"graduation_on": 20240630}), "details.graduation_on"),
        (graduate_claim(details={"institution": "清华大学"}), "details.graduation_on"),
        (graduate_claim(details={"graduation_on": "2024-06-30", "gpa": 4}), "details.gpa"),
        (
            {"group": "laid_off_unemployed", "details": {"registered_unemployed_since": "2024-01-01", "x": 1}},
            "details.x",
        ),
        (
            {"group": "employment_difficulty", "details": {"category": "rich", "since": "2024-01-01"}},
            "details.category",
        ),
        ({"group": "migrant_worker", "details": {"hukou_village_code": "12345"}}, "details.hukou_village_code"),
    ],
)
async def test_bad_claim_input_names_the_field(
    client: Client, session: AsyncSession, world: World, body: dict[str, Any], field: str
) -> None:
    response = await client.post(claims_url(world.vendor), json=body, headers=world.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert await claim_count(session, world.vendor) == 0


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"category": "11010519491231002X", "since": "2024-01-01"}, "details.category"),
        ({"category": "disability", "since": "2024-01-01", "11010519491231002X": 1}, "details"),
    ],
)
async def test_bad_details_are_not_repeated_back(
    client: Client, world: World, details: dict[str, Any], field: str
) -> None:
    body = {"group": "employment_difficulty", "details": details}
    response = await client.post(claims_url(world.vendor), json=body, headers=world.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=[field])
    assert "11010519491231002X" not in response.text


async def test_dates_that_describe_the_past_must_not_be_in_the_future(client: Client, world: World) -> None:
    today = world.settings.today()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    cases = [
        (
            {"group": "laid_off_unemployed", "details": {"registered_unemployed_since": tomorrow}},
            "details.registered_unemployed_since",
        ),
        ({"group": "employment_difficulty", "details": {"category": "disability", "since": tomorrow}}, "details.since"),
        ({"group": "migrant_worker", "details": {"returned_on": tomorrow}}, "details.returned_on"),
        (graduate_claim(details={"graduation_on": f"{today.year + 1}-01-01"}), "details.graduation_on"),
    ]
    for body, field in cases:
        response = await client.post(claims_url(world.vendor), json=body, headers=world.as_vendor())
        assert_problem(response, 422, "validation_failed", fields=[field])
    # Students claim in their graduation year: a graduation date later this year is accepted.
    this_year = graduate_claim(details={"graduation_on": f"{today.year}-12-31"})
    response = await client.post(claims_url(world.vendor), json=this_year, headers=world.as_vendor())
    assert response.status_code == 201, response.text


async def test_graduation_year_turns_at_midnight_in_the_city(client: Client, world: World, clock: FixedClock) -> None:
    """A graduation date is "this year" by the city's calendar: at 00:30 on 1 January in Beijing (still
    31 December in UTC) the new year's dates are accepted."""
    next_year = graduate_claim(details={"graduation_on": f"{TODAY.year + 1}-06-30"})
    clock.set(city_time(TODAY.year, 12, 31, 23, 30))
    response = await client.post(claims_url(world.vendor), json=next_year, headers=world.as_vendor())
    assert_problem(response, 422, "validation_failed", fields=["details.graduation_on"])
    clock.advance(dt.timedelta(hours=1))
    assert clock.now().year == TODAY.year  # UTC has not turned yet
    response = await client.post(claims_url(world.vendor), json=next_year, headers=world.as_vendor())
    assert response.status_code == 201, response.text


async def test_a_second_pending_claim_to_the_same_group_is_409(
    client: Client, session: AsyncSession, world: World
) -> None:
    first = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=world.as_vendor())
    assert first.status_code == 201, first.text
    # The same group again, by the vendor or by their street office: refused while the first is pending.
    for headers in (world.as_vendor(), world.as_(world.staff)):
        again = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=headers)
        assert_problem(again, 409, "claim_pending")
    assert await claim_count(session, world.vendor) == 1
    # Another group is fine, and so is the same group once the first claim is decided.
    other = {"group": "migrant_worker", "details": {}}
    assert (await client.post(claims_url(world.vendor), json=other, headers=world.as_vendor())).status_code == 201
    decided = await client.post(
        f"{CLAIMS}/{first.json()['id']}/decision",
        json={"decision": "rejected", "reason": "no degree record"},
        headers={**world.as_(world.staff), "If-Match": first.headers["etag"]},
    )
    assert decided.status_code == 200, decided.text
    renewed = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=world.as_vendor())
    assert renewed.status_code == 201, renewed.text
    assert await claim_count(session, world.vendor) == 3


@pytest.mark.parametrize("group", ["laid_off_unemployed", "employment_difficulty"])
async def test_certificate_numbers_are_not_taken_in_claim_details(client: Client, world: World, group: str) -> None:
    """The 就业创业证 number is the holder's ID number in practice: the evidence carries it, not the claim."""
    details: dict[str, Any] = {"employment_certificate_no": "11010519491231002X"}
    if group == "laid_off_unemployed":
        details["registered_unemployed_since"] = "2024-01-15"
    else:
        details |= {"category": "disability", "since": "2024-01-15"}
    response = await client.post(
        claims_url(world.vendor), json={"group": group, "details": details}, headers=world.as_vendor()
    )
    assert_problem(response, 422, "validation_failed", fields=["details.employment_certificate_no"])
    assert "11010519491231002X" not in response.text


async def test_someone_elses_document_is_refused_like_a_missing_one(
    client: Client, session: AsyncSession, world: World
) -> None:
    others = await make_document(session, owner_account_id=world.other_vendor.account_id)
    own = await make_document(session, owner_account_id=world.vendor.account_id)
    await session.commit()
    details = []
    for evidence in ([str(own.id), str(others.id)], [str(own.id), str(uuid.uuid4())]):
        body = graduate_claim(evidence_document_ids=evidence)
        response = await client.post(claims_url(world.vendor), json=body, headers=world.as_vendor())
        assert_problem(response, 422, "validation_failed", fields=["evidence_document_ids"])
        details.append(response.json()["detail"])
    assert details[0] == details[1]
    assert await claim_count(session, world.vendor) == 0


# --- reading --------------------------------------------------------------------------------------------------


async def test_list_claims_is_scoped_by_role(client: Client, session: AsyncSession, world: World) -> None:
    mine = await make_claim(session, world.vendor)
    theirs = await make_claim(session, world.other_vendor, group="migrant_worker")
    await session.commit()

    async def listed(headers: dict[str, str], query: str = "") -> set[str]:
        response = await client.get(f"{CLAIMS}{query}", headers=headers)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await listed(world.as_(world.staff)) == {str(mine.id)}
    assert await listed(world.as_(world.other_staff)) == {str(theirs.id)}
    assert await listed(world.as_vendor()) == {str(mine.id)}
    assert {str(mine.id), str(theirs.id)} <= await listed(world.as_(world.admin))
    assert_problem(await client.get(CLAIMS, headers=world.as_(world.department)), 403, "forbidden")
    assert_problem(await client.get(CLAIMS), 401, "not_authenticated")


async def test_list_filters_and_pages_in_submission_order(client: Client, session: AsyncSession, world: World) -> None:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    # One pending claim per vendor and group: five neighbours of the vendor each have one.
    neighbours = [
        await make_vendor(session, world.settings, residence_jurisdiction_code=world.vendor.residence_jurisdiction_code)
        for _ in range(5)
    ]
    pending = [
        await make_claim(session, neighbour, submitted_at=start + dt.timedelta(minutes=i))
        for i, neighbour in enumerate(neighbours)
    ]
    await make_claim(session, world.vendor, group="laid_off_unemployed", status="rejected")
    await make_claim(
        session, world.vendor, group="migrant_worker", status="verified", valid_until=world.settings.today()
    )
    await session.commit()
    headers = world.as_(world.staff)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"status": "pending", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get(CLAIMS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert all(item["status"] == "pending" for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(claim.id) for claim in pending]
    response = await client.get(CLAIMS, params={"group": "migrant_worker"}, headers=headers)
    assert [item["status"] for item in response.json()["items"]] == ["verified"]
    for params in ({"status": "approved"}, {"group": "retired"}, {"limit": "0"}, {"limit": "201"}):
        response = await client.get(CLAIMS, params=params, headers=headers)
        assert_problem(response, 400, "invalid_parameter", fields=list(params))
    response = await client.get(CLAIMS, params={"cursor": "garbage!"}, headers=headers)
    assert_problem(response, 400, "invalid_parameter", fields=["cursor"])


async def test_staff_list_is_logged_per_vendor(client: Client, session: AsyncSession, world: World) -> None:
    await make_claim(session, world.vendor)
    await make_claim(session, world.vendor, group="migrant_worker")
    await session.commit()
    response = await client.get(CLAIMS, params={"purpose": "case 2025-17"}, headers=world.as_(world.staff))
    assert response.status_code == 200
    rows = list(
        await session.scalars(select(PersonalDataAccess).where(PersonalDataAccess.vendor_id == world.vendor.id))
    )
    assert len(rows) == 1
    assert rows[0].account_id == world.staff.id
    assert rows[0].fields == list(service.LIST_ACCESS_FIELDS)
    assert rows[0].purpose == "case 2025-17"
    # A vendor reading their own claims is not logged.
    await client.get(CLAIMS, headers=world.as_vendor())
    count = await session.scalar(select(func.count()).where(PersonalDataAccess.vendor_id == world.vendor.id))
    assert count == 1


async def test_get_claim_returns_etag_in_scope_and_404_outside(
    client: Client, session: AsyncSession, world: World
) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    url = f"{CLAIMS}/{claim.id}"
    for headers in (world.as_vendor(), world.as_(world.staff), world.as_(world.admin)):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == '"1"'
        assert response.json()["group"] == "college_graduate"
    for headers in (world.as_vendor(world.other_vendor), world.as_(world.other_staff)):
        assert_problem(await client.get(url, headers=headers), 404, "claim_not_found")
    assert_problem(await client.get(f"{CLAIMS}/{uuid.uuid4()}", headers=world.as_(world.admin)), 404, "claim_not_found")
    assert_problem(await client.get(url, headers=world.as_(world.department)), 403, "forbidden")
    assert_problem(await client.get(url), 401, "not_authenticated")
    logged = await session.scalars(
        select(PersonalDataAccess.account_id).where(PersonalDataAccess.vendor_id == world.vendor.id)
    )
    assert sorted(map(str, logged)) == sorted([str(world.staff.id), str(world.admin.id)])


# --- deciding -------------------------------------------------------------------------------------------------


def decide_url(claim: KeyGroupClaim) -> str:
    return f"{CLAIMS}/{claim.id}/decision"


def current(headers: dict[str, str], version: int = 1) -> dict[str, str]:
    """Headers for a decision on a claim at this version (If-Match is required)."""
    return {**headers, "If-Match": f'"{version}"'}


def verify(days: int = 365) -> dict[str, Any]:
    """A verification valid `days` after the tests' start date (also used in parametrize)."""
    return {"decision": "verified", "valid_until": (TODAY + dt.timedelta(days=days)).isoformat()}


async def test_staff_verify_a_claim(client: Client, session: AsyncSession, world: World) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    response = await client.post(
        decide_url(claim), json=verify(), headers={**world.as_(world.staff), "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "verified"
    assert body["valid_until"] == verify()["valid_until"]
    assert body["version"] == 2
    assert body["decided_at"] is not None
    assert response.headers["etag"] == '"2"'
    decision = await session.scalar(select(KeyGroupDecision).where(KeyGroupDecision.claim_id == claim.id))
    assert decision is not None
    assert decision.decision == "verified"
    assert decision.decided_by == world.staff.id
    groups = await service.verified_key_groups(session, world.vendor.id, world.settings.today())
    assert groups == ["college_graduate"]


async def test_staff_reject_a_claim_with_a_reason(client: Client, session: AsyncSession, world: World) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    body = {"decision": "rejected", "reason": "学信网 record not found"}
    response = await client.post(decide_url(claim), json=body, headers=current(world.as_(world.staff)))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "学信网 record not found"
    assert response.json()["valid_until"] is None
    assert await service.verified_key_groups(session, world.vendor.id, world.settings.today()) == []
    # The vendor sees why.
    response = await client.get(f"{CLAIMS}/{claim.id}", headers=world.as_vendor())
    assert response.json()["decision_reason"] == "学信网 record not found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "verified", "valid_until": "2000-01-01"}, "valid_until"),
        (verify(days=6 * 366), "valid_until"),
        ({"decision": "rejected"}, "reason"),
        ({"decision": "rejected", "reason": "   "}, "reason"),
        ({"decision": "rejected", "reason": "no", "valid_until": "2030-01-01"}, "valid_until"),
        ({"decision": "approve"}, "decision"),
        ({**verify(), "note": "x"}, "note"),
        ({"decision": "verified", "valid_until": 20300101}, "valid_until"),
    ],
)
async def test_bad_decision_names_the_field(
    client: Client, session: AsyncSession, world: World, body: dict[str, Any], field: str
) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    response = await client.post(decide_url(claim), json=body, headers=current(world.as_(world.staff)))
    assert_problem(response, 422, "validation_failed", fields=[field])
    await session.refresh(claim)
    assert claim.status == "pending"


async def test_validity_boundaries_today_and_five_years_are_accepted(
    client: Client, session: AsyncSession, world: World
) -> None:
    today = world.settings.today()
    for valid_until in (today, add_months(today, 12 * registration_rules().max_verification_years)):
        claim = await make_claim(session, world.vendor)
        await session.commit()
        body = {"decision": "verified", "valid_until": valid_until.isoformat()}
        response = await client.post(decide_url(claim), json=body, headers=current(world.as_(world.staff)))
        assert response.status_code == 200, response.text


async def test_second_decision_is_409(client: Client, session: AsyncSession, world: World) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    headers = world.as_(world.staff)
    assert (await client.post(decide_url(claim), json=verify(), headers=current(headers))).status_code == 200
    response = await client.post(
        decide_url(claim), json={"decision": "rejected", "reason": "changed my mind"}, headers=current(headers, 2)
    )
    assert_problem(response, 409, "claim_already_decided")
    await session.refresh(claim)
    assert claim.status == "verified"
    count = await session.scalar(select(func.count()).where(KeyGroupDecision.claim_id == claim.id))
    assert count == 1


async def test_decision_refused_outside_scope_and_for_other_roles(
    client: Client, session: AsyncSession, world: World
) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    assert_problem(
        await client.post(decide_url(claim), json=verify(), headers=current(world.as_(world.other_staff))),
        404,
        "claim_not_found",
    )
    assert_problem(
        await client.post(f"{CLAIMS}/{uuid.uuid4()}/decision", json=verify(), headers=current(world.as_(world.staff))),
        404,
        "claim_not_found",
    )
    # Admins are refused by separation of duties; departments and vendors have no say.
    for headers in (world.as_(world.admin), world.as_(world.department), world.as_vendor()):
        assert_problem(await client.post(decide_url(claim), json=verify(), headers=headers), 403, "forbidden")
    assert_problem(await client.post(decide_url(claim), json=verify()), 401, "not_authenticated")
    await session.refresh(claim)
    assert (claim.status, claim.version) == ("pending", 1)


async def test_if_match_is_required_and_compared_strongly(client: Client, session: AsyncSession, world: World) -> None:
    claim = await make_claim(session, world.vendor)
    await session.commit()
    staff = world.as_(world.staff)
    assert_problem(await client.post(decide_url(claim), json=verify(), headers=staff), 428, "precondition_required")
    for if_match, status, code in (
        ('"7"', 412, "precondition_failed"),
        ('W/"1"', 412, "precondition_failed"),
        ("*", 428, "precondition_required"),
    ):
        response = await client.post(decide_url(claim), json=verify(), headers={**staff, "If-Match": if_match})
        assert_problem(response, status, code)
    await session.refresh(claim)
    assert (claim.status, claim.version) == ("pending", 1)
    assert await session.scalar(select(func.count()).where(KeyGroupDecision.claim_id == claim.id)) == 0
    response = await client.post(decide_url(claim), json=verify(), headers={**staff, "If-Match": '"0", "1"'})
    assert response.status_code == 200, response.text
    # After the decision the old ETag is stale: a precondition failure, evaluated before the state conflict.
    response = await client.post(decide_url(claim), json=verify(), headers={**staff, "If-Match": '"1"'})
    assert_problem(response, 412, "precondition_failed")
    assert response.headers["etag"] == '"2"'


# --- what verified claims give --------------------------------------------------------------------------------


async def test_expired_verification_gives_nothing(client: Client, session: AsyncSession, world: World) -> None:
    today = world.settings.today()
    yesterday = today - dt.timedelta(days=1)
    await make_claim(session, world.vendor, status="verified", valid_until=yesterday)
    await make_claim(session, world.vendor, group="migrant_worker", status="verified", valid_until=today)
    await make_claim(session, world.vendor, group="laid_off_unemployed", status="rejected")
    await make_claim(session, world.vendor, group="employment_difficulty")
    await session.commit()
    # valid_until is inclusive: the migrant-worker status still counts today, the graduate one does not.
    assert await service.verified_key_groups(session, world.vendor.id, today) == ["migrant_worker"]
    assert await service.verified_key_groups(session, world.vendor.id, yesterday) == [
        "college_graduate",
        "migrant_worker",
    ]
    response = await client.get(f"/api/v1/vendors/{world.vendor.id}", headers=world.as_vendor())
    assert response.status_code == 200, response.text
    assert response.json()["key_groups"] == ["migrant_worker"]
    response = await client.get(f"/api/v1/vendors/{world.vendor.id}/entitlements", headers=world.as_vendor())
    assert response.status_code == 200, response.text
    body = response.json()
    every = body["items"] + body["not_yet_eligible"]
    assert all("college_graduate" not in item["qualifying_groups"] for item in every)
    assert all(item["qualifying_groups"] in ([], ["migrant_worker"]) for item in every)


# --- entitlements ---------------------------------------------------------------------------------------------


def entitlements_url(vendor: Vendor) -> str:
    return f"/api/v1/vendors/{vendor.id}/entitlements"


def by_code(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["policy_code"]: item for item in items}


async def test_graduate_without_registration_sees_what_registering_would_give(
    client: Client, session: AsyncSession, world: World
) -> None:
    today = world.settings.today()
    graduated = today.replace(month=1, day=1)
    await make_claim(
        session,
        world.vendor,
        details={"graduation_on": graduated.isoformat()},
        status="verified",
        valid_until=today + dt.timedelta(days=200),
    )
    await session.commit()
    response = await client.get(entitlements_url(world.vendor), headers=world.as_vendor())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["on"] == today.isoformat()
    waiting = by_code(body["not_yet_eligible"])
    tax = waiting["tax_deduction_2023_15"]
    assert tax["eligible"] is False
    assert [reason["code"] for reason in tax["reasons"]] == ["requires_business_registration"]
    assert tax["qualifying_groups"] == ["college_graduate"]
    assert tax["amount_cny"] == 20000
    assert tax["legal_basis"].startswith("财政部")
    assert tax["conditions"]
    # June 2026 + 36 months runs past the policy's end: capped at its last day.
    assert tax["runs_until_if_registered_today"] == "2027-12-31"
    eligible = by_code(body["items"])
    assert "social_insurance_subsidy" in eligible  # within 2 years of graduation, no registration needed
    assert eligible["social_insurance_subsidy"]["valid_until"] == graduated.replace(year=graduated.year + 2).isoformat()
    assert all(item["eligible"] for item in body["items"])


async def test_tax_deduction_is_offered_on_its_last_day_and_gone_the_next(
    client: Client, session: AsyncSession, world: World, clock: FixedClock
) -> None:
    """The policy ends on 31 December 2027: that day it is still offered, from 1 January 2028 it is not."""
    clock.set(city_time(2027, 12, 31, 23, 30))
    await make_claim(
        session,
        world.vendor,
        details={"graduation_on": "2027-06-30"},
        status="verified",
        valid_until=dt.date(2028, 6, 30),
    )
    await session.commit()
    response = await client.get(entitlements_url(world.vendor), headers=world.as_vendor())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["on"] == "2027-12-31"
    tax = by_code(body["not_yet_eligible"])["tax_deduction_2023_15"]
    assert tax["runs_until_if_registered_today"] == "2027-12-31"
    clock.advance(dt.timedelta(hours=1))
    response = await client.get(entitlements_url(world.vendor), headers=world.as_vendor())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["on"] == "2028-01-01"
    offered = {item["policy_code"] for item in body["items"] + body["not_yet_eligible"]}
    assert "tax_deduction_2023_15" not in offered
    assert "social_insurance_subsidy" in offered  # still within 2 years of graduation


@pytest.mark.parametrize(
    ("on", "runs_until"),
    [
        (TODAY, "2027-12-31"),  # registered June 2026: 36 months would reach May 2029, capped at the policy's end
        (dt.date(2024, 6, 15), "2027-05-31"),  # registered June 2024: the full 36 months
    ],
    ids=["capped", "full-term"],
)
async def test_registered_graduate_gets_the_tax_deduction_for_36_months(
    client: Client, session: AsyncSession, world: World, clock: FixedClock, on: dt.date, runs_until: str
) -> None:
    clock.set(city_time(on.year, on.month, on.day))
    today = world.settings.today()
    registered = today.replace(day=1)
    world.vendor.business_registered_on = registered
    await make_claim(
        session,
        world.vendor,
        details={"graduation_on": today.replace(month=1, day=1).isoformat()},
        status="verified",
        valid_until=today,
    )
    await session.commit()
    response = await client.get(entitlements_url(world.vendor), headers=world.as_(world.staff))
    assert response.status_code == 200, response.text
    items = by_code(response.json()["items"])
    tax = items["tax_deduction_2023_15"]
    end = registered.replace(year=registered.year + 3) - dt.timedelta(days=1)
    assert tax["valid_until"] == min(end, dt.date(2027, 12, 31)).isoformat() == runs_until
    assert tax["verified_until"] == today.isoformat()
    assert "guaranteed_loan" in items


async def test_entitlements_scope(client: Client, session: AsyncSession, world: World) -> None:
    url = entitlements_url(world.vendor)
    for headers in (world.as_vendor(), world.as_(world.staff), world.as_(world.admin)):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["items"] == []  # no verified key group yet
        assert all(
            any(reason["code"] == "no_verified_key_group" for reason in item["reasons"])
            for item in body["not_yet_eligible"]
        )
    for headers in (world.as_vendor(world.other_vendor), world.as_(world.other_staff)):
        assert_problem(await client.get(url, headers=headers), 404, "vendor_not_found")
    assert_problem(await client.get(url, headers=world.as_(world.department)), 403, "forbidden")
    assert_problem(await client.get(url), 401, "not_authenticated")
    logged = await session.scalars(select(PersonalDataAccess).where(PersonalDataAccess.vendor_id == world.vendor.id))
    assert sorted(row.role for row in logged) == ["admin", "street_office"]


async def test_filing_and_deciding_are_dated_by_the_services_clock(
    client: Client, session: AsyncSession, world: World, clock: FixedClock
) -> None:
    """A draw compares a claim's filing with its close on the service's clock, so both must come from it."""
    filed_at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    clock.set(filed_at)
    filed = await client.post(claims_url(world.vendor), json=graduate_claim(), headers=world.as_vendor())
    assert filed.status_code == 201, filed.text
    clock.advance(dt.timedelta(days=3))
    decided = await client.post(
        f"{CLAIMS}/{filed.json()['id']}/decision",
        json={"decision": "rejected", "reason": "no degree record"},
        headers={**world.as_(world.staff), "If-Match": filed.headers["etag"]},
    )
    assert decided.status_code == 200, decided.text
    claim = await session.get(KeyGroupClaim, uuid.UUID(filed.json()["id"]))
    assert claim is not None
    assert claim.submitted_at == filed_at
    decision = await session.scalar(select(KeyGroupDecision).where(KeyGroupDecision.claim_id == claim.id))
    assert decision is not None
    assert decision.decided_at == filed_at + dt.timedelta(days=3)
