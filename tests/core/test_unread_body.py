"""A write that reads no body refuses a JSON one that says something (RELIABILITY.md T-A3): a field it would
ignore must not look accepted. No body and `{}` pass; a form (the console reads its own) is left alone."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar, post

from core.openapi import documented_problems


@pytest.fixture
async def no_body_client(own_app: Litestar) -> httpx.AsyncClient:
    @post("/api/v1/things/withdraw", status_code=200, sync_to_thread=False)
    def withdraw() -> dict[str, str]:
        """A write that reads no body."""
        return {"status": "withdrawn"}

    own_app.register(withdraw)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=own_app), base_url="http://testserver")


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {}),
        (b"", {"Content-Type": "application/json"}),
        (b"{}", {"Content-Type": "application/json"}),
        (b" { } ", {"Content-Type": "application/json"}),
        (b"csrf=abc", {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
    ids=["none", "empty json", "empty object", "spaced empty object", "a form"],
)
async def test_nothing_said_passes(no_body_client: httpx.AsyncClient, content: bytes, headers: dict[str, str]) -> None:
    response = await no_body_client.post("/api/v1/things/withdraw", content=content, headers=headers)
    assert response.status_code == 200, response.text


async def test_a_field_is_refused_by_name(no_body_client: httpx.AsyncClient) -> None:
    response = await no_body_client.post("/api/v1/things/withdraw", json={"status": "approved", "vendor_id": "x"})
    assert response.status_code in (400, 422)
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"status", "vendor_id"}


@pytest.mark.parametrize("content", [b"[1]", b"true", b"{not json"], ids=["array", "scalar", "malformed"])
async def test_any_other_json_body_is_refused(no_body_client: httpx.AsyncClient, content: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = await no_body_client.post("/api/v1/things/withdraw", content=content, headers=headers)
    assert response.status_code in (400, 422)
    assert response.json()["errors"] == [{"field": "body", "message": "this request takes no body"}]


def test_the_refusal_is_documented_on_every_write_that_reads_no_body(app: Litestar) -> None:
    documented = documented_problems(app.openapi_schema)
    schema = app.openapi_schema.to_schema()
    bodiless = [
        operation["operationId"]
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in ("post", "put", "patch", "delete") and "requestBody" not in operation
    ]
    assert bodiless, "the app has writes that read no body (withdrawals, releases)"
    for operation_id in bodiless:
        assert "validation_failed" in documented[operation_id].get(422, set()), operation_id
