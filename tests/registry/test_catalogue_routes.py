"""The public reference lists over HTTP."""

from __future__ import annotations

import httpx

from tests.problems import assert_problem
from tests.registry.test_catalogue import API_ACTIVITIES


async def test_activities_cover_the_contract_and_are_cacheable(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/activities")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    codes = {item["code"] for item in body["items"]}
    assert codes >= API_ACTIVITIES
    for item in body["items"]:
        assert {"code", "name_zh", "name_en", "category", "permits"} <= item.keys()
    cigarettes = next(item for item in body["items"] if item["code"] == "cigarettes")
    assert cigarettes["category"] == "restricted"
    assert cigarettes["stall_allowed"] == "blocked"
    assert "tobacco_retail_permit" in cigarettes["permits"]
    again = await client.get("/api/v1/activities", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_activities_filter_by_category(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/activities", params={"category": "prepared_food"})
    categories = {item["category"] for item in response.json()["items"]}
    assert categories == {"prepared_food"}
    refused = await client.get("/api/v1/activities", params={"category": "weapons"})
    assert_problem(refused, 400, "invalid_parameter", fields=["category"])


async def test_one_activity_and_unknown_code(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/activities/shoe_repair")).json()["category"] == "convenience_services"
    assert_problem(await client.get("/api/v1/activities/teleportation"), 404, "activity_not_found")


async def test_unknown_activity_code_is_not_repeated_back(client: httpx.AsyncClient) -> None:
    """Whatever lands in the path (here an ID number pasted by mistake) is not echoed in the 404."""
    missing = await client.get("/api/v1/activities/11010519491231002X")
    problem = assert_problem(missing, 404, "activity_not_found")
    assert "11010519491231002X" not in missing.text.replace(problem.get("instance", ""), "")


async def test_departments_and_permit_types(client: httpx.AsyncClient) -> None:
    departments = {d["code"] for d in (await client.get("/api/v1/departments")).json()["items"]}
    assert {"market_regulation", "urban_management", "traffic_police", "tobacco", "human_resources"} <= departments
    permit_types = (await client.get("/api/v1/permit-types")).json()["items"]
    codes = {p["code"] for p in permit_types}
    assert {"business_license", "food_stall_filing", "road_occupancy"} <= codes
    for permit in permit_types:
        assert set(permit["departments"]) <= departments
