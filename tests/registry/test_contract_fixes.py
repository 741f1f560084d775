"""The registry's contract as API.md states it: decisions, field errors, sign-up rules, accounts, the queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from registry.entitlements import add_months
from registry.models import Account, KeyGroupClaim, KeyGroupDecision, PersonalDataAccess, Vendor
from registry.policies import default_verification_months, registration_rules
from tests.builders import NEIGHBOUR_SQUARE, auth_headers, id_number, phone_number
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account, make_claim, make_jurisdiction, make_vendor, vendor_headers

Client = httpx.AsyncClient


@pytest.fixture
async def places(session: AsyncSession) -> tuple[str, str]:
    a = await make_jurisdiction(session)
    b = await make_jurisdiction(session, boundary=NEIGHBOUR_SQUARE, min_lon=116.42, max_lon=116.44)
    await session.commit()
    return a.code, b.code


def decision_url(claim: KeyGroupClaim) -> str:
    return f"/api/v1/key-group-claims/{claim.id}/decision"


@dataclass
class Case:
    """A pending claim of a vendor of the first place, and the street office of that place."""

    vendor: Vendor
    staff: Account
    claim: KeyGroupClaim

    def deciding(self, settings: Settings, if_match: str | None = '"1"') -> dict[str, str]:
        headers = auth_headers(settings, self.staff)
        if if_match is not None:
            headers["If-Match"] = if_match
        return headers


@pytest.fixture
async def case(session: AsyncSession, settings: Settings, places: tuple[str, str]) -> Case:
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=places[0])
    staff = await make_account(session, "street_office", jurisdiction_code=places[0])
    claim = await make_claim(session, vendor, group="migrant_worker")
    await session.commit()
    return Case(vendor=vendor, staff=staff, claim=claim)


# --- decisions: default term, scope before If-Match, free text ----------------------------------------------------


async def test_verifying_without_valid_until_uses_the_groups_default_term(
    client: Client, session: AsyncSession, settings: Settings, case: Case
) -> None:
    claim, staff = case.claim, case.staff
    response = await client.post(
        decision_url(claim),
        json={"decision": "verified"},
        headers={**auth_headers(settings, staff), "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    expected = add_months(settings.today(), default_verification_months("migrant_worker"))
    assert response.json()["valid_until"] == expected.isoformat()
    decision = await session.scalar(select(KeyGroupDecision).where(KeyGroupDecision.claim_id == claim.id))
    assert decision is not None
    assert decision.valid_until == expected


@pytest.mark.parametrize("if_match", [None, '"1"', '"7"', "*"], ids=["absent", "current", "stale", "wildcard"])
async def test_staff_of_another_jurisdiction_get_404_whatever_if_match_they_send(
    client: Client, session: AsyncSession, settings: Settings, places: tuple[str, str], if_match: str | None
) -> None:
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=places[0])
    stranger = await make_account(session, "street_office", jurisdiction_code=places[1])
    claim = await make_claim(session, vendor)
    await session.commit()
    headers = auth_headers(settings, stranger)
    if if_match is not None:
        headers["If-Match"] = if_match
    response = await client.post(decision_url(claim), json={"decision": "verified"}, headers=headers)
    assert_problem(response, 404, "claim_not_found")
    await session.refresh(claim)
    assert (claim.status, claim.version) == ("pending", 1)


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [(None, 428, "precondition_required"), ("*", 428, "precondition_required"), ('"2"', 412, "precondition_failed")],
)
async def test_in_scope_officer_still_needs_the_current_etag(
    client: Client,
    session: AsyncSession,
    settings: Settings,
    case: Case,
    if_match: str | None,
    status: int,
    code: str,
) -> None:
    claim, staff = case.claim, case.staff
    headers = auth_headers(settings, staff)
    if if_match is not None:
        headers["If-Match"] = if_match
    assert_problem(await client.post(decision_url(claim), json={"decision": "verified"}, headers=headers), status, code)
    await session.refresh(claim)
    assert claim.status == "pending"


async def test_a_rejection_reason_may_run_over_several_lines(
    client: Client, session: AsyncSession, settings: Settings, case: Case
) -> None:
    claim, staff = case.claim, case.staff
    reason = "证明材料不清晰。\r\nThe certificate scan is unreadable.\nPlease upload it again."
    response = await client.post(
        decision_url(claim),
        json={"decision": "rejected", "reason": reason},
        headers={**auth_headers(settings, staff), "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["decision_reason"] == reason


@pytest.mark.parametrize("character", ["\t", "\x00", "\u202e", "\u200b"])
async def test_free_text_still_refuses_other_control_characters(
    client: Client, session: AsyncSession, settings: Settings, case: Case, character: str
) -> None:
    claim, staff = case.claim, case.staff
    response = await client.post(
        decision_url(claim),
        json={"decision": "rejected", "reason": f"unreadable{character}scan"},
        headers={**auth_headers(settings, staff), "If-Match": '"1"'},
    )
    assert_problem(response, 422, "validation_failed", fields=["reason"])
    await session.refresh(claim)
    assert claim.status == "pending"


async def test_line_breaks_stay_refused_outside_free_text(client: Client, places: tuple[str, str]) -> None:
    body = {
        "username": "wang_xiuying",
        "password": PASSWORD,
        "name": "王秀英\n",
        "id_number": id_number(),
        "phone": phone_number(),
        "residence_jurisdiction": places[0],
    }
    assert_problem(await client.post("/api/v1/vendors", json=body), 422, "validation_failed", fields=["name"])


# --- field errors: enums list their values, patterns speak in words, every field at once ---------------------------


async def test_enum_error_lists_the_allowed_values(
    client: Client, session: AsyncSession, settings: Settings, case: Case
) -> None:
    claim, staff = case.claim, case.staff
    response = await client.post(
        decision_url(claim), json={"decision": "approve"}, headers={**auth_headers(settings, staff), "If-Match": '"1"'}
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"] == [{"field": "decision", "message": "must be one of rejected, verified"}]


async def test_claim_detail_enum_error_lists_the_categories(
    client: Client, session: AsyncSession, settings: Settings, places: tuple[str, str]
) -> None:
    vendor = await make_vendor(session, settings, residence_jurisdiction_code=places[0])
    await session.commit()
    response = await client.post(
        f"/api/v1/vendors/{vendor.id}/key-group-claims",
        json={"group": "employment_difficulty", "details": {"category": "4050", "since": "2024-01-01"}},
        headers=vendor_headers(settings, vendor),
    )
    body = assert_problem(response, 422, "validation_failed")
    [error] = body["errors"]
    assert error["field"] == "details.category"
    assert error["message"].startswith("must be one of ")
    assert "over_40_female_over_50_male" in error["message"]
    assert "zero_employment_family" in error["message"]


async def test_all_field_errors_come_back_at_once_and_patterns_are_described_in_words(client: Client) -> None:
    body = {
        "username": "王 秀英",
        "password": "short",
        "name": "王秀英",
        "phone": phone_number(),
        "residence_jurisdiction": "1101",
        "nickname": "x",
    }
    problem_body = assert_problem(await client.post("/api/v1/vendors", json=body), 422, "validation_failed")
    by_field = {error["field"]: error["message"] for error in problem_body["errors"]}
    assert set(by_field) == {"username", "password", "id_number", "residence_jurisdiction", "nickname"}
    assert by_field["id_number"] == "is required"
    assert by_field["nickname"] == "is not a field of this request"
    assert by_field["residence_jurisdiction"] == "must be a 12-digit division code"
    assert "letters, digits" in by_field["username"]
    assert not any("regex" in message or "^" in message for message in by_field.values())


# --- sign-up: working age, idempotent for anonymous callers --------------------------------------------------------


def sign_up(code: str, number: str, username: str = "li_na_2026") -> dict[str, Any]:
    return {
        "username": username,
        "password": PASSWORD,
        "name": "李娜",
        "id_number": number,
        "phone": phone_number(),
        "residence_jurisdiction": code,
    }


async def test_sign_up_below_working_age_is_refused_naming_id_number(
    client: Client, session: AsyncSession, settings: Settings, places: tuple[str, str]
) -> None:
    minimum = registration_rules().minimum_age
    today = settings.today()
    too_young = today.replace(year=today.year - minimum) + dt.timedelta(days=1)
    body = assert_problem(
        await client.post("/api/v1/vendors", json=sign_up(places[0], id_number(too_young))),
        422,
        "invalid_id_number",
        fields=["id_number"],
    )
    assert body["reason"] == "under_working_age"
    assert await session.scalar(select(func.count()).select_from(Vendor)) == 0
    # On the birthday itself the person is of working age.
    of_age = today.replace(year=today.year - minimum)
    response = await client.post("/api/v1/vendors", json=sign_up(places[0], id_number(of_age), "li_na_16"))
    assert response.status_code == 201, response.text


async def test_anonymous_sign_up_retried_with_the_same_key_returns_the_first_201(
    client: Client, session: AsyncSession, places: tuple[str, str]
) -> None:
    body = sign_up(places[0], id_number(dt.date(1990, 5, 17)))
    headers = {"Idempotency-Key": "2f4b6c1e-phone-retry-1"}
    first = await client.post("/api/v1/vendors", json=body, headers=headers)
    assert first.status_code == 201, first.text
    retry = await client.post("/api/v1/vendors", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await session.scalar(select(func.count()).select_from(Vendor)) == 1
    other = await client.post("/api/v1/vendors", json={**body, "username": "li_na_other"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reused")


async def test_anonymous_key_on_a_route_that_needs_a_token_is_401_not_a_key_conflict(
    client: Client, places: tuple[str, str]
) -> None:
    """Found by the fuzzer: after a stored anonymous sign-up, the same key sent without a token to a secured
    route answered 422 `idempotency_key_reused` (anonymous callers share a key space) instead of the guard's 401."""
    headers = {"Idempotency-Key": "f3c1-phone-retry-9"}
    first = await client.post(
        "/api/v1/vendors", json=sign_up(places[0], id_number(dt.date(1991, 3, 4))), headers=headers
    )
    assert first.status_code == 201, first.text
    for _ in range(2):
        response = await client.post(
            "/api/v1/accounts", json={"username": "x_office", "password": PASSWORD, "role": "admin"}, headers=headers
        )
        assert_problem(response, 401, "not_authenticated")


async def test_a_phone_that_changed_network_gets_its_first_answer_and_no_one_else_does(
    app: Any, session: AsyncSession, places: tuple[str, str]
) -> None:
    """Anonymous keys do not depend on the address (phones move from mobile data to Wi-Fi), and a stored
    answer goes only to the identical request: the same key with another body is a 422 that reveals nothing."""
    body = sign_up(places[0], id_number(dt.date(1988, 2, 9)))
    headers = {"Idempotency-Key": "shared-key-7"}
    answers = []
    for address, sent in (("10.1.2.3", body), ("10.9.8.7", body), ("10.5.5.5", {**body, "password": "guessing!"})):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as caller:
            answers.append(await caller.post("/api/v1/vendors", json=sent, headers=headers))
    first, retried, other = answers
    assert first.status_code == 201, first.text
    assert (retried.status_code, retried.content) == (201, first.content)
    assert retried.headers["idempotent-replayed"] == "true"
    assert_problem(other, 422, "idempotency_key_reused")
    assert first.json()["id"] not in other.text
    assert await session.scalar(select(func.count()).select_from(Vendor)) == 1


# --- accounts: no vendor account without a profile; one password rule -----------------------------------------------


async def test_admin_cannot_open_a_vendor_account_without_a_profile(
    client: Client, session: AsyncSession, settings: Settings
) -> None:
    admin = await make_account(session, "admin")
    await session.commit()
    response = await client.post(
        "/api/v1/accounts",
        json={"username": "orphan_vendor", "password": PASSWORD, "role": "vendor"},
        headers=auth_headers(settings, admin),
    )
    body = assert_problem(response, 422, "validation_failed", fields=["role"])
    assert "vendor" not in body["errors"][0]["message"].removeprefix("must be one of ").split(", ")
    assert await session.scalar(select(func.count()).where(Account.username == "orphan_vendor")) == 0


# --- the street office's queue --------------------------------------------------------------------------------------


async def test_pending_queue_shows_each_vendors_name_and_masked_id_and_logs_the_read(
    client: Client, session: AsyncSession, settings: Settings, places: tuple[str, str]
) -> None:
    vendor = await make_vendor(
        session, settings, residence_jurisdiction_code=places[0], name="赵敏", id_number="11010519491231002X"
    )
    staff = await make_account(session, "street_office", jurisdiction_code=places[0])
    await make_claim(session, vendor)
    await session.commit()
    response = await client.get(
        "/api/v1/key-group-claims", params={"status": "pending"}, headers=auth_headers(settings, staff)
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["vendor_name"], item["vendor_id_number_masked"]) == ("赵敏", "110105********002X")
    assert "11010519491231002X" not in response.text
    logged = await session.scalar(select(PersonalDataAccess.fields).where(PersonalDataAccess.vendor_id == vendor.id))
    assert logged is not None
    assert {"name", "id_number_masked"} <= set(logged)


# --- what the ID number proves ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "male", "accepted"),
    [(38, False, False), (40, False, True), (45, True, False), (50, True, True)],
    ids=["woman-38", "woman-40", "man-45", "man-50"],
)
async def test_4050_category_is_checked_against_the_id_number(
    client: Client,
    session: AsyncSession,
    settings: Settings,
    places: tuple[str, str],
    age: int,
    male: bool,
    accepted: bool,
) -> None:
    today = settings.today()
    born = today.replace(year=today.year - age) - dt.timedelta(days=1)
    vendor = await make_vendor(
        session, settings, residence_jurisdiction_code=places[0], id_number=id_number(born, male=male)
    )
    await session.commit()
    response = await client.post(
        f"/api/v1/vendors/{vendor.id}/key-group-claims",
        json={
            "group": "employment_difficulty",
            "details": {"category": "over_40_female_over_50_male", "since": "2024-01-01"},
        },
        headers=vendor_headers(settings, vendor),
    )
    if accepted:
        assert response.status_code == 201, response.text
    else:
        assert_problem(response, 422, "validation_failed", fields=["details.category"])
        claims = await session.scalar(select(func.count()).where(KeyGroupClaim.vendor_id == vendor.id))
        assert claims == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "must be one of pending, rejected, verified"),
        ("limit=500", "must be at most 200"),
        ("limit=abc", "must be an integer"),
    ],
)
async def test_query_parameter_errors_are_in_words(
    client: Client, session: AsyncSession, settings: Settings, places: tuple[str, str], query: str, message: str
) -> None:
    staff = await make_account(session, "street_office", jurisdiction_code=places[0])
    await session.commit()
    response = await client.get(f"/api/v1/key-group-claims?{query}", headers=auth_headers(settings, staff))
    body = assert_problem(response, 400, "invalid_parameter")
    assert [error["message"] for error in body["errors"]] == [message]
