"""The road-occupancy hand-off: a carriageway request becomes an application with two departments' tasks;
decisions, supplements and withdrawal settle the occupancy it decides."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from permits import decisions, workdays
from permits.models import Application, SupplementNotice, Task
from tests.permits.builders import (
    APPLICATIONS,
    ROAD_URL,
    TASKS,
    PermitCity,
    decide,
    make_permit_city,
    road_application,
    task_of,
)
from tests.problems import assert_problem
from venues.models import RoadOccupancy


@pytest.fixture
async def city(session: AsyncSession, settings: Settings) -> PermitCity:
    return await make_permit_city(session, settings)


async def _occupancy_status(session: AsyncSession, application_id: str) -> str:
    status = await session.scalar(select(RoadOccupancy.status).where(RoadOccupancy.application_id == application_id))
    assert status is not None
    return status


async def test_a_carriageway_request_opens_one_application_with_the_road_authority_and_the_police(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    assert application["status"] == "in_review"
    assert sorted((t["department"], t["permit_type"]) for t in application["tasks"]) == [
        ("traffic_police", "road_occupancy"),
        ("urban_management", "road_occupancy"),
    ]
    assert application["venue_id"] == str(city.carriageway.id)
    assert application["received_on"] == "2026-06-15"
    assert application["accepted_on"] == "2026-06-15"  # deemed accepted on receipt until a timely notice
    assert application["completeness_due_on"] == "2026-06-23"  # 5 working days; 2026-06-19 is 端午
    # Two departments: a joint application, 45 working days as a whole (Art. 42).
    assert application["joint_due_on"] is not None
    for task in application["tasks"]:
        assert task["status"] == "in_review"
        assert task["mode"] == "review"
        assert task["kind"] == "licence"
        assert task["etag"] == '"1"'
        assert task["due_provisional"] is False
        assert task["due_at"].startswith(task["due_on"])


async def test_both_departments_approving_approves_the_application_and_the_occupancy(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
    first = await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "approved"
    assert first.headers["etag"] == '"2"'
    assert first.json()["decision"]["number"].startswith("UM-2026-")
    middle = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert middle["status"] == "in_review"
    assert await _occupancy_status(session, application["id"]) == "pending_permit"

    second = await decide(
        client, city, city.police, task_of(application, "traffic_police"), conditions=["限 18:00 前撤离"]
    )
    assert second.status_code == 200, second.text
    assert second.json()["decision"]["conditions"] == ["限 18:00 前撤离"]
    done = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert done["status"] == "approved"
    assert done["decided_at"] is not None
    assert await _occupancy_status(session, application["id"]) == "approved"


async def test_one_rejection_rejects_the_application_keeps_approvals_and_refuses_the_occupancy(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    refused = await decide(
        client, city, city.police, task_of(application, "traffic_police"), "reject", note="主干道高峰时段\n影响通行"
    )
    assert refused.status_code == 200, refused.text
    decision = refused.json()["decision"]
    assert decision["outcome"] == "rejected"
    assert decision["note"] == "主干道高峰时段\n影响通行"
    assert any("行政复议" in route and "60 days" in route for route in decision["challenge_routes"])
    assert any("行政诉讼" in route and "6 months" in route for route in decision["challenge_routes"])
    done = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert done["status"] == "rejected"
    assert task_of(done, "urban_management")["status"] == "approved"  # stays on record
    assert await _occupancy_status(session, application["id"]) == "refused"
    # Its slot is free again: the same request goes through (and opens a new application).
    await road_application(client, city)


async def test_a_rejection_closes_the_other_departments_open_task(client: httpx.AsyncClient, city: PermitCity) -> None:
    application = await road_application(client, city)
    await decide(client, city, city.police, task_of(application, "traffic_police"), "reject", note="不符合条件")
    late = task_of(application, "urban_management")
    read = await client.get(f"{TASKS}/{late['id']}", headers=city.as_(city.road_authority))
    assert read.json()["status"] == "closed"
    problem = assert_problem(
        await decide(client, city, city.road_authority, late, etag=read.headers["etag"]), 409, "invalid_transition"
    )
    assert problem["allowed_transitions"] == []


# --- scope before precondition ----------------------------------------------------------------------------------


async def test_another_department_gets_404_before_any_precondition(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
    task = task_of(application, "traffic_police")
    url = f"{TASKS}/{task['id']}/decision"
    without_if_match = await client.post(url, json={"decision": "approve"}, headers=city.as_(city.market))
    assert_problem(without_if_match, 404, "task_not_found")
    assert_problem(await decide(client, city, city.market, task), 404, "task_not_found")
    assert_problem(await client.get(f"{TASKS}/{task['id']}", headers=city.as_(city.market)), 404, "task_not_found")
    # The right department without If-Match: 428; with a stale one: 412.
    assert_problem(
        await client.post(url, json={"decision": "approve"}, headers=city.as_(city.police)),
        428,
        "precondition_required",
    )
    assert_problem(await decide(client, city, city.police, task, etag='"7"'), 412, "precondition_failed")
    assert (await session.get(Task, task["id"])) is not None
    assert (await session.scalar(select(Task.status).where(Task.id == task["id"]))) == "in_review"


@pytest.mark.parametrize("role", ["vendor", "street_office", "admin"])
async def test_only_a_department_decides(client: httpx.AsyncClient, city: PermitCity, role: str) -> None:
    application = await road_application(client, city)
    task = task_of(application, "traffic_police")
    headers = {"vendor": city.as_vendor(), "street_office": city.as_(city.staff), "admin": city.as_(city.admin)}[role]
    response = await client.post(
        f"{TASKS}/{task['id']}/decision", json={"decision": "approve"}, headers={**headers, "If-Match": '"1"'}
    )
    assert_problem(response, 403, "forbidden")


async def test_who_reads_an_application(client: httpx.AsyncClient, city: PermitCity) -> None:
    application = await road_application(client, city)
    url = f"{APPLICATIONS}/{application['id']}"
    for allowed in (city.as_vendor(), city.as_(city.police), city.as_(city.road_authority), city.as_(city.admin)):
        assert (await client.get(url, headers=allowed)).status_code == 200
    assert_problem(await client.get(url, headers=city.as_vendor(city.other_vendor)), 404, "application_not_found")
    assert_problem(await client.get(url, headers=city.as_(city.market)), 404, "application_not_found")
    assert_problem(await client.get(url, headers=city.as_(city.staff)), 403, "forbidden")
    mine = (await client.get(APPLICATIONS, headers=city.as_vendor())).json()["items"]
    assert [a["id"] for a in mine] == [application["id"]]
    assert (await client.get(APPLICATIONS, headers=city.as_vendor(city.other_vendor))).json()["items"] == []
    assert (await client.get(APPLICATIONS, headers=city.as_(city.market))).json()["items"] == []


async def test_the_queue_holds_only_the_departments_own_tasks(client: httpx.AsyncClient, city: PermitCity) -> None:
    application = await road_application(client, city)
    police = (await client.get(TASKS, headers=city.as_(city.police))).json()["items"]
    assert [t["id"] for t in police] == [task_of(application, "traffic_police")["id"]]
    assert police[0]["green_channel"] is False
    assert (await client.get(TASKS, headers=city.as_(city.market))).json()["items"] == []
    everything = (await client.get(TASKS, headers=city.as_(city.admin))).json()["items"]
    assert len(everything) == 2
    assert_problem(await client.get(TASKS, headers=city.as_vendor()), 403, "forbidden")


# --- bad decisions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"decision": "reject"}, "note"),
        ({"decision": "reject", "note": "  \n "}, "note"),
        ({"decision": "request_supplement", "note": "缺材料"}, "missing"),
        (
            {"decision": "request_supplement", "note": "缺材料", "missing": [{"item": "占道平面图", "reason": ""}]},
            "missing[0].reason",
        ),
        ({"decision": "request_supplement", "missing": [{"item": "占道平面图", "reason": "需标明尺寸"}]}, "note"),
        ({"decision": "approve", "missing": [{"item": "占道平面图", "reason": "需标明尺寸"}]}, "missing"),
    ],
    ids=[
        "reject without reasons",
        "reject with blank reasons",
        "supplement without items",
        "item without reason",
        "supplement without note",
        "approve with items",
    ],
)
async def test_a_decision_without_its_reasons_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession, extra: dict[str, object], field: str
) -> None:
    application = await road_application(client, city)
    task = task_of(application, "traffic_police")
    decision = str(extra.pop("decision"))
    response = await decide(client, city, city.police, task, decision, **extra)
    problem = assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert (await session.scalar(select(Task.version).where(Task.id == task["id"]))) == 1


async def test_an_unknown_decision_value_is_refused_naming_the_field(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    response = await decide(client, city, city.police, task_of(application, "traffic_police"), "maybe")
    assert response.status_code in (400, 422), response.text
    assert "decision" in response.text


# --- supplements --------------------------------------------------------------------------------------------

MISSING_PLAN = [{"item": "占道平面图", "reason": "需标明摊位尺寸与通道宽度"}]
MISSING_PHOTO = [{"item": "现场照片", "reason": "需看清路面"}]


async def test_two_departments_asking_before_the_answer_share_one_notice(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
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
    assert asked.json()["status"] == "needs_supplement"
    joined = await decide(
        client,
        city,
        city.road_authority,
        task_of(application, "urban_management"),
        "request_supplement",
        note="请补正",
        missing=MISSING_PHOTO,
    )
    assert joined.status_code == 200, joined.text
    read = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert read["status"] == "needs_supplement"
    assert len(read["notices"]) == 1
    assert [(i["item"], i["department"]) for i in read["notices"][0]["items"]] == [
        ("占道平面图", "traffic_police"),
        ("现场照片", "urban_management"),
    ]
    # Sent inside the completeness stage: acceptance waits for the answer.
    assert read["notices"][0]["before_acceptance"] is True
    assert read["accepted_on"] is None


async def test_the_answer_returns_the_application_to_review_and_accepts_it_that_day(
    client: httpx.AsyncClient, city: PermitCity, clock: object, session: AsyncSession
) -> None:
    from tests.clock import city_time

    application = await road_application(client, city)
    police_task = task_of(application, "traffic_police")
    await decide(client, city, city.police, police_task, "request_supplement", note="请补正", missing=MISSING_PLAN)
    clock.set(city_time(2026, 6, 17, 9))  # type: ignore[attr-defined]
    answered = await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements",
        json={"note": "已补平面图，见附件说明"},
        headers=city.as_vendor(),
    )
    assert answered.status_code == 200, answered.text
    out = answered.json()
    assert out["status"] == "in_review"
    assert out["accepted_on"] == "2026-06-17"
    assert out["notices"][0]["answered_at"] is not None
    task = task_of(out, "traffic_police")
    assert task["status"] == "in_review"
    assert task["etag"] == '"3"'
    # The limit now runs from the answer day.
    assert task["due_on"] > police_task["due_on"]
    # A second request may ask only about what was supplied.
    again = await decide(client, city, city.police, task, "request_supplement", note="仍缺", missing=MISSING_PHOTO)
    problem = assert_problem(again, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["missing[0].item"]
    about_the_same = await decide(
        client, city, city.police, task, "request_supplement", note="平面图未标尺寸", missing=MISSING_PLAN
    )
    assert about_the_same.status_code == 200, about_the_same.text
    notices = (await session.scalars(select(SupplementNotice).order_by(SupplementNotice.round))).all()
    assert [n.round for n in notices] == [1, 2]
    assert notices[1].before_acceptance is False


@pytest.mark.parametrize(
    ("payload", "fields"),
    [({}, ["document_ids", "note"]), ({"note": "  "}, ["document_ids", "note"])],
    ids=["empty", "blank note"],
)
async def test_a_supplement_with_nothing_in_it_is_refused(
    client: httpx.AsyncClient, city: PermitCity, payload: dict[str, object], fields: list[str]
) -> None:
    application = await road_application(client, city)
    await decide(
        client,
        city,
        city.police,
        task_of(application, "traffic_police"),
        "request_supplement",
        note="请补正",
        missing=MISSING_PLAN,
    )
    response = await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements", json=payload, headers=city.as_vendor()
    )
    assert_problem(response, 422, "validation_failed", fields=fields)


async def test_a_supplement_with_someone_elses_document_is_refused(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    from tests.registry.builders import make_document

    application = await road_application(client, city)
    await decide(
        client,
        city,
        city.police,
        task_of(application, "traffic_police"),
        "request_supplement",
        note="请补正",
        missing=MISSING_PLAN,
    )
    theirs = await make_document(session, owner_account_id=city.other_vendor.account_id)
    await session.commit()
    response = await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements",
        json={"document_ids": [str(theirs.id)]},
        headers=city.as_vendor(),
    )
    assert_problem(response, 422, "validation_failed", fields=["document_ids"])
    assert (
        await session.scalar(select(Application.status).where(Application.id == application["id"]))
    ) == "needs_supplement"


async def test_a_supplement_when_none_was_asked_for_names_what_is_possible(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    response = await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements", json={"note": "补充"}, headers=city.as_vendor()
    )
    problem = assert_problem(response, 409, "invalid_transition")
    assert problem["allowed_transitions"] == ["withdraw"]


# --- withdrawal ---------------------------------------------------------------------------------------------


async def test_withdrawing_the_application_withdraws_the_occupancy(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
    url = f"{APPLICATIONS}/{application['id']}/withdraw"
    assert_problem(await client.post(url, headers=city.as_vendor(city.other_vendor)), 404, "application_not_found")
    out = await client.post(url, headers=city.as_vendor())
    assert out.status_code == 200, out.text
    assert out.json()["status"] == "withdrawn"
    assert {t["status"] for t in out.json()["tasks"]} == {"closed"}
    assert await _occupancy_status(session, application["id"]) == "withdrawn"
    again = assert_problem(await client.post(url, headers=city.as_vendor()), 409, "invalid_transition")
    assert again["allowed_transitions"] == []


async def test_withdrawing_the_occupancy_withdraws_the_application(
    client: httpx.AsyncClient, city: PermitCity, session: AsyncSession
) -> None:
    application = await road_application(client, city)
    response = await client.post(f"{ROAD_URL}/{application['road_occupancy_id']}/withdraw", headers=city.as_vendor())
    assert response.status_code == 200, response.text
    read = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert read["status"] == "withdrawn"
    task = task_of(read, "traffic_police")
    problem = assert_problem(await decide(client, city, city.police, task), 409, "invalid_transition")
    assert problem["allowed_transitions"] == []


# --- history ------------------------------------------------------------------------------------------------


async def test_every_step_is_in_the_applications_history_without_its_free_text(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    note = "请补正：身份证号不要写在这里"
    await decide(client, city, city.police, police, "request_supplement", note=note, missing=MISSING_PLAN)
    await client.post(
        f"{APPLICATIONS}/{application['id']}/supplements", json={"note": "已补"}, headers=city.as_vendor()
    )
    read = await client.get(f"{TASKS}/{police['id']}", headers=city.as_(city.police))
    await decide(client, city, city.police, read.json(), etag=read.headers["etag"])
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    url = f"{APPLICATIONS}/{application['id']}/history"
    entries = (await client.get(url, headers=city.as_vendor())).json()["items"]
    assert [e["event"] for e in entries] == [
        "application_submitted",
        "supplement_requested",
        "supplement_answered",
        "task_approved",
        "task_approved",
        "application_approved",
        "permit_issued",
    ]
    roles = [e["actor"]["role"] for e in entries]
    assert roles == ["vendor", "department", "vendor", "department", "department", "system", "system"]
    assert entries[0]["actor"]["account_id"] == str(city.vendor.account_id)
    assert "请补正" not in str(entries)  # free text is hashed, never copied
    assert entries[1]["payload"]["note_sha256"] == decisions.digest(note)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    assert (await client.get(url, headers=city.as_(city.police))).status_code == 200
    assert_problem(await client.get(url, headers=city.as_vendor(city.other_vendor)), 404, "application_not_found")
    assert_problem(await client.get(url, headers=city.as_(city.market)), 404, "application_not_found")


async def test_the_last_approval_issues_one_permit_an_inspector_can_read(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    await decide(client, city, city.police, task_of(application, "traffic_police"), conditions=["22:00 前收摊"])
    done = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    number = done["permit_number"]
    assert number is not None
    permit = (await client.get(f"/api/v1/permits/{number}")).json()
    assert permit["status"] == "valid"
    assert permit["holder_masked"] == "王**"
    assert permit["conditions"] == ["22:00 前收摊"]
    assert sorted(c["department"] for c in permit["components"]) == ["traffic_police", "urban_management"]
    assert permit["valid_from"] == permit["valid_to"] == "2026-06-16"
    assert permit["token"].count(".") == 2
    history = (await client.get(f"{APPLICATIONS}/{application['id']}/history", headers=city.as_vendor())).json()
    assert history["items"][-1]["event"] == "permit_issued"
    assert history["items"][-1]["permit_number"] == number


# --- clock steps --------------------------------------------------------------------------------------------


async def test_an_extension_approved_by_the_head_moves_the_limit_once_and_tells_the_applicant(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    url = f"{TASKS}/{police['id']}/extension"
    body = {"days": 10, "approved_by": "东城交通支队支队长", "reason": "需会同路政现场勘验"}
    assert_problem(await client.post(url, json=body, headers=city.as_(city.market)), 404, "task_not_found")
    headers = {**city.as_(city.police), "If-Match": police["etag"]}
    too_long = await client.post(url, json={**body, "days": 11}, headers=headers)
    assert_problem(too_long, 422, "validation_failed", fields=["days"])
    extended = await client.post(url, json=body, headers=headers)
    assert extended.status_code == 200, extended.text
    out = extended.json()
    assert out["extension"] == {
        "days": 10,
        "approved_by": "东城交通支队支队长",
        "approved_on": "2026-06-15",
        "reason": "需会同路政现场勘验",
    }
    assert out["extension_days"] == 10
    assert out["statutory_due_on"] > police["statutory_due_on"]
    assert out["due_on"] == out["statutory_due_on"]  # an extension sets the promised limit aside
    seen = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()
    assert task_of(seen, "traffic_police")["extension"]["reason"] == "需会同路政现场勘验"
    again = await client.post(url, json=body, headers={**city.as_(city.police), "If-Match": extended.headers["etag"]})
    assert_problem(again, 409, "invalid_transition")


async def test_an_art_45_pause_leaves_its_working_days_out_of_the_limit(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    road = task_of(application, "urban_management")
    url = f"{TASKS}/{road['id']}/pauses"
    headers = {**city.as_(city.road_authority), "If-Match": road["etag"]}
    notice = "现场检验定于6月16日至24日，期间不计入期限"
    past = {"kind": "testing", "starts_on": "2026-06-12", "ends_on": "2026-06-16", "notice": notice}
    assert_problem(await client.post(url, json=past, headers=headers), 422, "validation_failed", fields=["starts_on"])
    backwards = {"kind": "testing", "starts_on": "2026-06-20", "ends_on": "2026-06-16", "notice": notice}
    assert_problem(
        await client.post(url, json=backwards, headers=headers), 422, "validation_failed", fields=["ends_on"]
    )
    # 16, 17, 18, 22, 23, 24 June: six working days (19 June is 端午).
    body = {"kind": "testing", "starts_on": "2026-06-16", "ends_on": "2026-06-24", "notice": notice}
    paused = await client.post(url, json=body, headers=headers)
    assert paused.status_code == 200, paused.text
    out = paused.json()
    assert out["pauses"] == [
        {
            "kind": "testing",
            "notified_on": "2026-06-15",
            "starts_on": "2026-06-16",
            "ends_on": "2026-06-24",
            "notice": notice,
        }
    ]
    assert out["paused_days"] == 6
    calendar = workdays.NationalCalendar()
    assert (
        dt.date.fromisoformat(out["statutory_due_on"])
        == workdays.add_workdays(calendar, dt.date.fromisoformat(road["statutory_due_on"]), 6).on
    )


@pytest.mark.parametrize("stops", [False, True], ids=["national rule", "local rule stopping the clock"])
async def test_a_supplement_after_acceptance_stops_the_clock_only_under_a_cited_local_rule(
    client: httpx.AsyncClient, city: PermitCity, clock: object, monkeypatch: pytest.MonkeyPatch, stops: bool
) -> None:
    from pathlib import Path

    from permits import time_limits
    from tests.clock import city_time

    if stops:
        text = (Path(time_limits.__file__).parent / "data" / "time-limits.toml").read_text()
        local = text.replace("supplement_stops_clock = false", "supplement_stops_clock = true", 1)
        monkeypatch.setattr(time_limits, "load_time_limits", lambda: time_limits.parse_time_limits(local))
    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    clock.set(city_time(2026, 6, 24, 9))  # type: ignore[attr-defined]  # after the 5-day completeness stage
    asked = await decide(client, city, city.police, police, "request_supplement", note="补充", missing=MISSING_PLAN)
    assert asked.status_code == 200, asked.text
    clock.set(city_time(2026, 6, 29, 9))  # type: ignore[attr-defined]
    url = f"{APPLICATIONS}/{application['id']}/supplements"
    answered = (await client.post(url, json={"note": "已补"}, headers=city.as_vendor())).json()
    assert answered["notices"][0]["before_acceptance"] is False
    assert answered["accepted_on"] == "2026-06-15"
    after = task_of(answered, "traffic_police")
    if stops:
        assert after["statutory_due_on"] > police["statutory_due_on"]
        assert after["paused_days"] > 0
    else:
        assert after["statutory_due_on"] == police["statutory_due_on"]


# --- what the second reader found ---------------------------------------------------------------------------


async def test_withdrawing_an_approved_occupancy_deregisters_its_permit(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    await decide(client, city, city.police, task_of(application, "traffic_police"))
    number = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()["permit_number"]
    response = await client.post(f"{ROAD_URL}/{application['road_occupancy_id']}/withdraw", headers=city.as_vendor())
    assert response.status_code == 200, response.text
    permit = (await client.get(f"/api/v1/permits/{number}")).json()
    assert permit["status"] == "revoked"
    assert {c["ground"] for c in permit["components"]} == {"deregistration"}
    history = (await client.get(f"{APPLICATIONS}/{application['id']}/history", headers=city.as_vendor())).json()
    assert history["items"][-1]["event"] == "permit_revoked"
    assert history["items"][-1]["actor"]["role"] == "vendor"


async def test_a_department_joining_a_later_notice_may_ask_only_about_what_was_supplied(
    client: httpx.AsyncClient, city: PermitCity
) -> None:
    application = await road_application(client, city)
    police, road = task_of(application, "traffic_police"), task_of(application, "urban_management")
    await decide(client, city, city.police, police, "request_supplement", note="请补正", missing=MISSING_PLAN)
    url = f"{APPLICATIONS}/{application['id']}/supplements"
    await client.post(url, json={"note": "已补"}, headers=city.as_vendor())
    police = (await client.get(f"{TASKS}/{police['id']}", headers=city.as_(city.police))).json()
    reopened = await decide(
        client, city, city.police, police, "request_supplement", note="仍不清楚", missing=MISSING_PLAN
    )
    assert reopened.status_code == 200, reopened.text
    road = (await client.get(f"{TASKS}/{road['id']}", headers=city.as_(city.road_authority))).json()
    joined = await decide(
        client, city, city.road_authority, road, "request_supplement", note="新问题", missing=MISSING_PHOTO
    )
    assert_problem(joined, 422, "validation_failed", fields=["missing[0].item"])


async def test_the_sweep_leaves_a_task_waiting_on_the_applicant_alone(
    client: httpx.AsyncClient,
    city: PermitCity,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from core.crypto import FieldCipher
    from permits import sweep
    from permits.permit_issue import Issuer
    from tests.clock import city_time

    application = await road_application(client, city)
    police = task_of(application, "traffic_police")
    await decide(client, city, city.police, police, "request_supplement", note="请补正", missing=MISSING_PLAN)
    issuer = Issuer(FieldCipher(settings.data.data_key), settings.http.public_url, settings.timezone)
    assert await sweep.sweep_deadlines(sessionmaker, city_time(2026, 12, 1), issuer=issuer) == []


async def test_a_permit_status_change_is_in_the_history(client: httpx.AsyncClient, city: PermitCity) -> None:
    application = await road_application(client, city)
    await decide(client, city, city.road_authority, task_of(application, "urban_management"))
    await decide(client, city, city.police, task_of(application, "traffic_police"))
    number = (await client.get(f"{APPLICATIONS}/{application['id']}", headers=city.as_vendor())).json()["permit_number"]
    permit = await client.get(f"/api/v1/permits/{number}")
    body = {"status": "suspended", "ground": "road_authority", "reason": "道路施工\n暂停占道"}
    headers = {**city.as_(city.road_authority), "If-Match": permit.headers["etag"]}
    changed = await client.post(f"/api/v1/permits/{number}/status", json=body, headers=headers)
    assert changed.status_code == 200, changed.text
    history = (await client.get(f"{APPLICATIONS}/{application['id']}/history", headers=city.as_vendor())).json()
    last = history["items"][-1]
    assert (last["event"], last["permit_number"], last["payload"]["ground"]) == (
        "permit_suspended",
        number,
        "road_authority",
    )
