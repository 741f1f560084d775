"""POST /applications: the exemption decision names the permits; one task per permit and department; every bad
input is a 4xx naming its field and writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.auth import Principal
from core.db import create_sessionmaker, transaction
from core.errors import InvalidInput
from core.settings import Settings
from permits.applications import check_documents
from permits.exemption_models import ExemptionCheck
from permits.models import Application, Commitment, Task
from registry.models import Account, Document, Jurisdiction, Vendor
from tests.permits.exemption_world import IN_HOURS, INSIDE, OUT_OF_HOURS, OUTSIDE, Places, at, make_places, period
from tests.problems import assert_problem
from tests.registry.builders import make_document, make_jurisdiction, make_vendor

URL = "/api/v1/applications"
COMMITMENTS = "/api/v1/commitment-texts"
FIFTY_YEARS = dt.timedelta(days=50 * 365)


def _body(
    activity: str, location: dict[str, Any] | None = INSIDE, periods: Any = (IN_HOURS,), **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {"activity_code": activity, "periods": [period(*p) for p in periods], **extra}
    if location is not None:
        found["location"] = location
    return found


async def _counts(session: AsyncSession) -> tuple[int, int, int]:
    return (
        int(await session.scalar(select(func.count()).select_from(Application)) or 0),
        int(await session.scalar(select(func.count()).select_from(Task)) or 0),
        int(await session.scalar(select(func.count()).select_from(ExemptionCheck)) or 0),
    )


async def test_cooked_snacks_at_the_designated_market_open_the_stall_filing_and_the_health_certificate(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    document = await make_document(session, owner_account_id=places.vendor.account_id)
    await session.commit()
    response = await client.post(
        URL, json=_body("cooked_snacks", document_ids=[str(document.id)]), headers=places.as_vendor()
    )
    assert response.status_code == 201, response.text
    out = response.json()
    assert response.headers["location"] == f"{URL}/{out['id']}"
    assert out["status"] == "in_review"
    assert sorted((t["permit_type"], t["department"], t["kind"]) for t in out["tasks"]) == [
        ("food_stall_filing", "market_regulation", "filing"),
        ("health_certificate", "health", "licence"),
    ]
    assert out["venue_id"] == str(places.market.id)
    assert out["venue_revision"] == places.market.version
    assert out["rule_version"].startswith("2026.1+")
    assert out["document_ids"] == [str(document.id)]
    stored = await session.get(ExemptionCheck, out["exemption_check_id"])
    assert stored is not None
    assert stored.outcome == "permits_required"
    for task in out["tasks"]:
        assert set(task) >= {"id", "department", "permit_type", "status", "due_at", "due_provisional", "mode", "etag"}


async def test_a_filing_is_never_refused_on_the_merits(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    out = (await client.post(URL, json=_body("cooked_snacks"), headers=places.as_vendor())).json()
    filing = next(t for t in out["tasks"] if t["permit_type"] == "food_stall_filing")
    from tests.builders import auth_headers
    from tests.registry.builders import make_account

    reviewer = await make_account(session, "department", department_code="market_regulation")
    await session.commit()
    headers = {**auth_headers(places.settings, reviewer), "If-Match": filing["etag"]}
    refused = await client.post(
        f"/api/v1/tasks/{filing['id']}/decision", json={"decision": "reject", "note": "不予备案"}, headers=headers
    )
    assert_problem(refused, 422, "filing_not_refusable", fields=["decision"])


async def test_an_activity_needing_nothing_there_and_then_is_refused_with_the_reasons(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    before = await _counts(session)
    problem = assert_problem(
        await client.post(URL, json=_body("vegetables_fruit"), headers=places.as_vendor()), 422, "no_permit_needed"
    )
    assert any(r["rule"] == "designated_place_and_time" and r["passed"] for r in problem["reasons"])
    assert await _counts(session) == before


async def test_an_activity_an_individual_cannot_carry_on_is_refused(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    before = await _counts(session)
    assert_problem(
        await client.post(URL, json=_body("cigarettes"), headers=places.as_vendor()), 422, "activity_not_allowed"
    )
    assert await _counts(session) == before


async def test_outside_any_designated_place_a_licence_is_needed(client: httpx.AsyncClient, places: Places) -> None:
    response = await client.post(URL, json=_body("shoe_repair", location=OUTSIDE), headers=places.as_vendor())
    assert response.status_code == 201, response.text
    assert [t["permit_type"] for t in response.json()["tasks"]] == ["business_license"]
    out_of_hours = await client.post(URL, json=_body("shoe_repair", periods=[OUT_OF_HOURS]), headers=places.as_vendor())
    assert [t["permit_type"] for t in out_of_hours.json()["tasks"]] == ["business_license"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"activity_code": "juggling_knives"}, "activity_code"),
        ({"periods": [period(at(16, 8), at(16, 7))]}, "periods[0]"),
        ({"periods": [{"start": "2026-06-16T07:00:00", "end": "2026-06-16T08:00:00"}]}, "periods[0].start"),
        ({"periods": [period(*IN_HOURS), period(*(moment + FIFTY_YEARS for moment in IN_HOURS))]}, "periods"),
        ({"venue_id": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"}, "venue_id"),
        ({"location": {"type": "Polygon", "coordinates": []}}, "location"),
    ],
    ids=["unknown activity", "ends before it starts", "no offset", "fifty years", "unknown venue", "not a point"],
)
async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    places: Places,
    session: AsyncSession,
    change: dict[str, Any],
    field: str,
) -> None:
    before = await _counts(session)
    response = await client.post(URL, json={**_body("cooked_snacks"), **change}, headers=places.as_vendor())
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"].startswith(field), problem
    assert await _counts(session) == before


async def test_documents_that_are_not_the_applicants_are_refused(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    theirs = await make_document(session, owner_account_id=places.other_vendor.account_id)
    await session.commit()
    before = await _counts(session)
    response = await client.post(
        URL, json=_body("cooked_snacks", document_ids=[str(theirs.id)]), headers=places.as_vendor()
    )
    assert_problem(response, 422, "validation_failed", fields=["document_ids"])
    assert await _counts(session) == before


async def test_only_a_vendor_applies(client: httpx.AsyncClient, places: Places) -> None:
    from tests.builders import auth_headers

    assert_problem(await client.post(URL, json=_body("cooked_snacks")), 401, "not_authenticated")
    staff = await client.post(URL, json=_body("cooked_snacks"), headers=auth_headers(places.settings, places.office))
    assert_problem(staff, 403, "forbidden")


async def test_an_online_activity_needs_no_location(client: httpx.AsyncClient, places: Places) -> None:
    response = await client.post(URL, json=_body("ride_hailing", location=None), headers=places.as_vendor())
    assert response.status_code == 201, response.text
    assert response.json()["location"] is None
    assert {t["department"] for t in response.json()["tasks"]} == {"transport"}


# --- commitment mode --------------------------------------------------------------------------------------------


async def test_a_signed_commitment_approves_at_once_and_schedules_the_inspection(
    client: httpx.AsyncClient, settings: Any, session: AsyncSession
) -> None:
    """The demo district (110101) records food-stall filings on a signed commitment."""
    places = await make_places(session, settings, prefix="110101")
    text = (
        await client.get(f"{COMMITMENTS}/food_stall_filing", params={"jurisdiction_code": places.jurisdiction.code})
    ).json()
    assert hashlib.sha256(text["text"].encode()).hexdigest() == text["text_sha256"]
    signed = {
        "permit_type": "food_stall_filing",
        "text_version": text["text_version"],
        "text_sha256": text["text_sha256"],
    }
    response = await client.post(URL, json=_body("cooked_snacks", commitments=[signed]), headers=places.as_vendor())
    assert response.status_code == 201, response.text
    out = response.json()
    filing = next(t for t in out["tasks"] if t["permit_type"] == "food_stall_filing")
    assert (filing["mode"], filing["status"]) == ("commitment", "approved")
    assert filing["decision"]["number"]
    assert filing["commitment"]["text_sha256"] == text["text_sha256"]
    assert filing["commitment"]["signed_by"] == str(places.vendor.account_id)
    stored = await session.get(Commitment, filing["id"])
    assert stored is not None
    assert stored.text_sha256 == text["text_sha256"]
    assert stored.signed_by == places.vendor.account_id
    assert stored.inspection_due_on > dt.date(2026, 6, 15)
    # The health certificate still needs its review.
    assert {t["permit_type"]: t["status"] for t in out["tasks"]}["health_certificate"] == "in_review"
    assert out["status"] == "in_review"


async def test_a_commitment_over_another_text_or_where_none_is_offered_is_refused(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    before = await _counts(session)
    wrong = {"permit_type": "food_stall_filing", "text_version": "2026-06", "text_sha256": "0" * 64}
    response = await client.post(URL, json=_body("cooked_snacks", commitments=[wrong]), headers=places.as_vendor())
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"].startswith("commitments[0]")
    assert await _counts(session) == before
    missing = await client.get(
        f"{COMMITMENTS}/food_stall_filing", params={"jurisdiction_code": places.jurisdiction.code}
    )
    assert_problem(missing, 404, "commitment_not_offered")


# --- green channel and the queue ---------------------------------------------------------------------------------


async def test_the_queue_puts_tasks_near_their_limit_first_then_the_green_channel(
    client: httpx.AsyncClient, places: Places, session: AsyncSession, clock: Any
) -> None:
    """A verified key-group applicant's tasks take the green channel; the reviewer sees only the flag."""
    from tests.builders import auth_headers
    from tests.clock import city_time
    from tests.registry.builders import make_account, make_claim, make_vendor

    reviewer = await make_account(session, "department", department_code="market_regulation")
    graduate = await make_vendor(session, places.settings, residence_jurisdiction_code=places.jurisdiction.code)
    await make_claim(session, graduate, status="verified", valid_until=dt.date(2027, 6, 30))
    await session.commit()
    clock.set(city_time(2026, 6, 1, 9))
    early = period(city_time(2026, 6, 16, 7), city_time(2026, 6, 16, 8))
    oldest = await client.post(
        URL, json={**_body("shoe_repair", location=OUTSIDE), "periods": [early]}, headers=places.as_vendor()
    )
    clock.set(city_time(2026, 6, 15, 9))
    ordinary = await client.post(URL, json=_body("shoe_repair", location=OUTSIDE), headers=places.as_vendor())
    green = await client.post(URL, json=_body("shoe_repair", location=OUTSIDE), headers=places.as_vendor(graduate))
    assert green.json()["green_channel"] is True
    assert ordinary.json()["green_channel"] is False
    queue = (await client.get("/api/v1/tasks", headers=auth_headers(places.settings, reviewer))).json()["items"]
    order = [t["application_id"] for t in queue]
    assert order == [oldest.json()["id"], green.json()["id"], ordinary.json()["id"]]
    assert [t["green_channel"] for t in queue] == [False, True, False]
    assert "college_graduate" not in str(queue)


async def test_a_venue_the_location_is_not_in_is_refused(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    before = await _counts(session)
    body = _body("shoe_repair", location=OUTSIDE, venue_id=str(places.market.id))
    assert_problem(
        await client.post(URL, json=body, headers=places.as_vendor()), 422, "validation_failed", fields=["venue_id"]
    )
    assert await _counts(session) == before


async def test_the_answer_to_a_submission_is_what_reading_the_application_back_gives(
    client: httpx.AsyncClient, places: Places, session: AsyncSession
) -> None:
    """The submission answers from what it has just written, without reading it back: it must say exactly what a
    later read says (tasks in order, documents in order, clocks, etags, timestamps)."""
    documents = [await make_document(session, owner_account_id=places.vendor.account_id) for _ in range(3)]
    await session.commit()
    ids = [str(d.id) for d in documents]
    response = await client.post(
        URL, json=_body("cooked_snacks", document_ids=[*ids, ids[0]]), headers=places.as_vendor()
    )
    assert response.status_code == 201, response.text
    read = await client.get(response.headers["location"], headers=places.as_vendor())
    assert read.status_code == 200, read.text
    assert response.json() == read.json()
    assert response.json()["document_ids"] == sorted(ids)
    assert len(response.json()["tasks"]) == 2


@pytest.mark.concurrency
async def test_a_document_the_retention_run_is_purging_is_refused_not_a_server_error(
    engine: AsyncEngine, settings: Settings
) -> None:
    """The retention run holds an unused document FOR UPDATE and deletes it; an application citing it meanwhile
    waits for the run, then finds the document gone: 422 naming the field, not a foreign-key 500 at its insert.
    Two sessions on connections of their own (the suite's NullPool engine), so the locks are real."""
    sessionmaker = create_sessionmaker(engine)
    async with transaction(sessionmaker) as setup:
        home = await make_jurisdiction(setup)
        vendor = await make_vendor(setup, settings, residence_jurisdiction_code=home.code)
        document = (await make_document(setup, owner_account_id=vendor.account_id)).id
    applicant = Principal(account_id=vendor.account_id, role="vendor")
    try:
        async with sessionmaker() as run, sessionmaker() as applying:
            await run.execute(select(Document.id).where(Document.id == document).with_for_update())
            pid = int(await applying.scalar(text("SELECT pg_backend_pid()")) or 0)
            checking = asyncio.create_task(check_documents(applying, applicant, [document]))
            waiting = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(3000):  # until the check waits on the run's lock (or, without the lock, is done)
                if checking.done() or await run.scalar(waiting, {"pid": pid}):
                    break
                await asyncio.sleep(0.01)
            await run.execute(delete(Document).where(Document.id == document))
            await run.commit()
            with pytest.raises(InvalidInput) as refused:
                await checking
            assert refused.value.errors[0].field == "document_ids"
    finally:
        async with transaction(sessionmaker) as cleanup:
            await cleanup.execute(delete(Document).where(Document.id == document))
            await cleanup.execute(delete(Vendor).where(Vendor.id == vendor.id))
            await cleanup.execute(delete(Account).where(Account.id == vendor.account_id))
            await cleanup.execute(delete(Jurisdiction).where(Jurisdiction.code == home.code))
