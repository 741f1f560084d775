"""No log line and no response body may carry an 18-character ID number (DOMAIN.md §7.4, RELIABILITY.md T-P5),
nor a log line a bearer token; in JSON (production's format) as in text."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import JsonFormatter
from core.settings import Settings
from tests.builders import auth_headers
from tests.problems import assert_problem
from tests.registry.builders import PASSWORD, make_account, make_jurisdiction

ID_SHAPED = re.compile(r"\d{17}[\dXx]")
CANARY = "110101199001011237"
OTHER = "11010519491231002X"


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQLAlchemy's engine included (statements, parameters and rows).

    Requested before `client`, so the test's connection is opened with engine logging already on.
    """
    caplog.set_level(logging.DEBUG)
    engine_logger = logging.getLogger("sqlalchemy.engine")
    previous = engine_logger.level
    engine_logger.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        engine_logger.setLevel(previous)


def leaks(text: str) -> list[str]:
    return ID_SHAPED.findall(text)


async def test_no_id_number_in_logs_or_bodies(
    debug_logging: pytest.LogCaptureFixture, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    home = await make_jurisdiction(session)
    staff = await make_account(session, "street_office", jurisdiction_code=home.code)
    admin = await make_account(session, "admin")
    await session.commit()

    bodies: list[str] = []

    async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        bodies.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    def sign_up(number: str, **overrides: str) -> dict[str, str]:
        body = {
            "username": f"v_{uuid.uuid4().hex[:10]}",
            "password": PASSWORD,
            "name": "张三",
            "id_number": number,
            "phone": "13812341234",
            "residence_jurisdiction": home.code,
        }
        body.update(overrides)
        return body

    created = await call("POST", "/api/v1/vendors", json=sign_up(CANARY))
    assert created.status_code == 201
    vendor_id = created.json()["id"]

    # Refusals: the same person again (409, the full lookup path), bad check digit, bad date, stray newline, 15 digits.
    for number, status, code in (
        (CANARY, 409, "vendor_exists"),
        ("11010119900101123x", 422, "invalid_id_number"),
        ("110101199001011238", 422, "invalid_id_number"),
        ("440308199002301238", 422, "invalid_id_number"),
        (f"{OTHER}\n", 422, "validation_failed"),
    ):
        assert_problem(await call("POST", "/api/v1/vendors", json=sign_up(number)), status, code)
    # Wrong type: the number as a JSON integer.
    response = await call(
        "POST",
        "/api/v1/vendors",
        content=f'{{"id_number": {CANARY}}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 422, "validation_failed")
    # An ID number smuggled into the query string is not echoed (RELIABILITY.md §4 row 37).
    await call(
        "GET", f"/api/v1/vendors/{vendor_id}", params={"id_number": OTHER}, headers=auth_headers(settings, staff)
    )

    tokens = [auth_headers(settings, staff), auth_headers(settings, admin)]
    for headers in tokens:
        assert (await call("GET", f"/api/v1/vendors/{vendor_id}", headers=headers)).status_code == 200
    assert (await call("GET", "/api/v1/vendors", headers=tokens[0])).status_code == 200

    records = debug_logging.records
    assert any(r.name.startswith("sqlalchemy.engine") for r in records), "engine logging was not captured"
    found: list[str] = []
    # The test client's own "HTTP Request: GET <url>" lines show the query string this test deliberately sent;
    # they are not the service's logs.
    for record in (r for r in records if not r.name.startswith(("httpx", "httpcore"))):
        found += leaks(record.getMessage())
        found += leaks(repr(record.args))
        if record.exc_info:
            found += leaks(logging.Formatter().formatException(record.exc_info))
    for body in bodies:
        found += leaks(body)
    assert found == []

    # The same records as production writes them (FLEXREG_LOG_FORMAT=json): one JSON object per line, holding
    # neither an ID number nor a bearer token, and access lines with their fields.
    formatter = JsonFormatter()
    secrets = [headers["Authorization"].removeprefix("Bearer ") for headers in tokens]
    access = []
    for record in (r for r in records if not r.name.startswith(("httpx", "httpcore"))):
        line = formatter.format(record)
        assert "\n" not in line
        parsed = json.loads(line)
        assert {"time", "level", "logger", "message"} <= parsed.keys(), parsed
        assert leaks(line) == [], line
        assert not any(secret in line or secret[-40:] in line for secret in secrets), line
        if parsed["logger"] == "core.request_log":
            access.append(parsed)
    assert access, "no access line was captured"
    assert all({"request_id", "method", "route", "status", "duration_ms"} <= line.keys() for line in access), access
    assert {"method": "GET", "route": "/api/v1/vendors/{vendor_id}", "status": 200} in [
        {key: line[key] for key in ("method", "route", "status")} for line in access
    ], access
