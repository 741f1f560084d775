"""Deny by default: every route needs a token unless it is on the public list below (OWASP API5)."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from tests.problems import assert_problem

# (method, path) pairs anyone may call; everything else must carry a guard.
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    # The refresh token is the credential: it is sent in the body, not as a bearer token.
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/vendors"),
    ("GET", "/api/v1/jurisdictions"),
    ("GET", "/api/v1/jurisdictions/{code:str}"),
    ("GET", "/api/v1/activities"),
    ("GET", "/api/v1/activities/{code:str}"),
    ("GET", "/api/v1/departments"),
    ("GET", "/api/v1/permit-types"),
    ("GET", "/api/v1/designated-places"),
    # How long departments take is published (优化营商环境条例 Art. 36), without personal data.
    ("GET", "/api/v1/statistics/processing-times"),
    # The commitment text an applicant signs (告知承诺制) is published.
    ("GET", "/api/v1/commitment-texts/{permit_type:str}"),
    # Places: where vending is lawful, and where it is not, is public.
    ("GET", "/api/v1/venues"),
    ("GET", "/api/v1/venues/{venue_id:uuid}"),
    ("GET", "/api/v1/venues/{venue_id:uuid}/map"),
    ("GET", "/api/v1/venues/{venue_id:uuid}/pitches"),
    ("GET", "/api/v1/pitches/{pitch_id:uuid}"),
    ("GET", "/api/v1/restricted-features"),
    ("GET", "/api/v1/restricted-features/{feature_id:uuid}"),
    ("GET", "/api/v1/allocation-rounds"),
    ("GET", "/api/v1/allocation-rounds/{round_id:uuid}"),
    ("GET", "/api/v1/allocation-rounds/{round_id:uuid}/results"),
    # Permits: the signed daily heads of the history, so anyone can keep copies (permits.anchors).
    ("GET", "/api/v1/history-anchors"),
    # Registry: the signed daily heads of the personal-data access log, likewise (registry.access_log_anchors).
    ("GET", "/api/v1/access-log-anchors"),
    # Issued permits: an inspector checks one by its number, offline with the keys and the revocation list.
    ("GET", "/api/v1/permits/{number:str}"),
    ("GET", "/api/v1/permits/{number:str}/qr.png"),
    ("GET", "/api/v1/permits/{number:str}/qr.svg"),
    ("GET", "/api/v1/permit-signing-keys"),
    ("GET", "/api/v1/permit-revocations"),
    # Permits: may they. A check needs no account (a vendor's names their vendor); a reference is for inspectors.
    ("POST", "/api/v1/exemption-checks"),
    ("GET", "/api/v1/exemption-checks/{check_id:uuid}"),
    ("GET", "/api/v1/exemption-references/{reference:str}"),
}

# Outside the API, for operators' tools: probes for load balancers and orchestrators (no token, no personal
# data), and the metrics, which check a scraper's token or address themselves (flexreg.ops).
OPERATIONS_PUBLIC = {("GET", "/health"), ("GET", "/ready")}
OPERATIONS_SCRAPER_ONLY = {("GET", "/metrics")}


def _api_routes(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    routes = []
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method not in ("HEAD", "OPTIONS"):
                    routes.append((method, route.path, handler))
    return routes


def test_every_non_public_route_has_a_guard(app: Litestar) -> None:
    unguarded = [
        (method, path)
        for method, path, handler in _api_routes(app)
        if (method, path) not in PUBLIC and not handler.resolve_guards()
    ]
    assert unguarded == []


async def test_every_guarded_route_refuses_anonymous_callers(app: Litestar, client: httpx.AsyncClient) -> None:
    for method, path, _handler in _api_routes(app):
        if (method, path) in PUBLIC:
            continue
        concrete = re.sub(r"\{\w+:uuid\}", "00000000-0000-4000-8000-000000000000", path)
        concrete = re.sub(r"\{\w+:str\}", "110101001000", concrete)
        response = await client.request(method, concrete, json={} if method in ("POST", "PUT", "PATCH") else None)
        assert_problem(response, 401, "not_authenticated")


async def test_operations_routes_need_no_api_token_and_are_outside_the_api(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    paths = {route.path for route in app.routes}
    assert {path for _, path in OPERATIONS_PUBLIC | OPERATIONS_SCRAPER_ONLY} <= paths
    for method, path in OPERATIONS_PUBLIC:
        response = await client.request(method, path)
        assert response.status_code == 200, response.text
    # Not in the API's document either: the fuzzer and the generated client are for the API.
    assert not any(path in app.openapi_schema.paths for _, path in OPERATIONS_PUBLIC | OPERATIONS_SCRAPER_ONLY)


def test_staff_roles_are_the_roles_but_vendor() -> None:
    """StaffRole restates three of the roles (a Literal cannot be derived): it must stay in step with Role."""
    from typing import get_args

    from core.auth import ROLES, StaffRole

    assert set(get_args(StaffRole)) == set(ROLES) - {"vendor"}
