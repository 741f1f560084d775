"""One check for every problem response (RFC 9457, application/problem+json) the tests meet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from core.errors import PROBLEM_MEDIA_TYPE


def assert_problem(
    response: httpx.Response, status: int, code: str, *, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """Assert a problem document with this HTTP status and `code`; return its body for further checks.

    Also checked: the media type, `status` in the body equal to the HTTP status, and `type` naming the code.
    `fields`: the exact `field` names of `errors`, in order (omit it to leave `errors` unchecked).
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers.get("content-type")
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert body["type"] == f"/problems/{code}", body
    if fields is not None:
        assert [error["field"] for error in body.get("errors") or []] == list(fields), body
    return body
