"""Each request: a fresh id in X-Request-ID and in any problem body, and exactly one access-log line naming it."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.request_log import HEADER
from core.settings import Settings
from tests.builders import auth_headers
from tests.registry.builders import make_account

LOGGER = "core.request_log"
UUID_SHAPED = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<route>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms request_id=(?P<request_id>"
    + UUID_SHAPED
    + r")$"
)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    lines = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return [match for match in matches if match]


async def test_every_response_carries_a_fresh_request_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/activities")
    second = await client.get("/api/v1/activities")
    assert first.status_code == second.status_code == 200
    assert re.fullmatch(UUID_SHAPED, first.headers[HEADER])
    assert first.headers[HEADER] != second.headers[HEADER]


async def test_a_client_sent_request_id_is_not_trusted(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/activities", headers={HEADER: "0123456789abcdef0123456789abcdef"})
    assert response.headers[HEADER] != "0123456789abcdef0123456789abcdef"
    assert response.headers.get_list(HEADER) == [response.headers[HEADER]]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/activities?unknown=1", 400, None),  # the request guard's refusal of a query parameter
        ("/no/such/route", 404, "not_found"),  # no route matched: rendered outside routing
        ("/api/v1/vendors/me", 401, "not_authenticated"),  # a DomainError from a guard
    ],
)
async def test_problem_bodies_carry_the_response_request_id(
    client: httpx.AsyncClient, path: str, status: int, code: str | None
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if code is not None:
        assert body["code"] == code
    assert body["request_id"] == response.headers[HEADER]


async def test_idempotency_problems_carry_the_request_id(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Problems the idempotency middleware writes itself, before any handler runs, carry the id too."""
    account = await make_account(session, "admin")
    await session.commit()
    response = await client.post(
        "/api/v1/jurisdictions",
        headers={**auth_headers(settings, account), "Idempotency-Key": "", "content-type": "application/json"},
        content=b"{}",
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_idempotency_key"
    assert body["request_id"] == response.headers[HEADER]


async def test_one_access_line_per_request_with_route_status_duration_and_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=LOGGER)
    vendor_id = uuid.uuid4()
    ok = await client.get("/api/v1/activities")
    missing = await client.get(f"/api/v1/vendors/{vendor_id}")
    unrouted = await client.get("/no/such/route")

    lines = access_lines(caplog)
    assert len(lines) == 3
    assert [(line["method"], line["route"], line["status"], line["request_id"]) for line in lines] == [
        ("GET", "/api/v1/activities", "200", ok.headers[HEADER]),
        ("GET", "/api/v1/vendors/{vendor_id}", str(missing.status_code), missing.headers[HEADER]),
        ("GET", "-", "404", unrouted.headers[HEADER]),
    ]
    assert all(str(vendor_id) not in line.group(0) for line in lines)


async def test_access_line_holds_no_query_string_path_values_or_personal_data(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger=LOGGER)
    name, id_number, phone = "王小明", "110101199503010031", "13800138000"
    await client.get(f"/api/v1/activities?name={name}&id_number={id_number}")
    await client.post(
        "/api/v1/vendors",
        json={"name": name, "id_number": id_number, "phone": phone, "password": "secret pass 1"},
        headers={"Authorization": f"Bearer {id_number}", "User-Agent": phone},
    )
    await client.get(f"/{id_number}/{phone}")

    lines = access_lines(caplog)
    assert len(lines) == 3
    text = "\n".join(line.group(0) for line in lines)
    for secret in (name, id_number, phone, "secret pass", "?", "127.0.0.1", "testserver"):
        assert secret not in text
