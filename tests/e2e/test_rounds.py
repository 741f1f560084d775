"""A street office's allocation round in a real browser: opened (its seed commitment shown), applied to through
the API, drawn after the close, its results checked against the commitment and the verify-draw command named."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, Playwright, expect

from tests.clock import CITY
from tests.e2e.conftest import LiveService, screenshot_for_readme, sign_in

OFFICE, OFFICE_PASSWORD = "demo_donghuamen", "demo-staff-pass"
VENDOR_PASSWORD = "demo-vendor-pass"
# The demo's own round offers every courtyard pitch for a term ending late in September: this round's term
# starts after it, so the same pitches may be offered again.
TERM_START, TERM_END = dt.date(2026, 10, 1), dt.date(2026, 12, 31)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def api(playwright: Playwright, live_service: LiveService) -> Iterator[APIRequestContext]:
    """A client of its own, so the vendors' bearer tokens never travel with the officer's session cookie."""
    client = playwright.request.new_context(base_url=live_service.url)
    yield client
    client.dispose()


def _token(api: APIRequestContext, username: str) -> str:
    response = api.post("/api/v1/auth/token", data={"username": username, "password": VENDOR_PASSWORD})
    assert response.status == 200, response.text()
    token: str = response.json()["access_token"]
    return token


def _apply(api: APIRequestContext, round_id: str, username: str, choices: list[str]) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/allocation-rounds/{round_id}/applications",
        data={"choices": choices},
        headers={"Authorization": f"Bearer {_token(api, username)}"},
    )
    assert response.status == 201, response.text()
    body: dict[str, Any] = response.json()
    return body


def _open_form(page: Page, name: str, pitches: list[str], close: str) -> None:
    page.goto("/console/rounds")
    page.get_by_label("名称", exact=True).fill(name)
    for label in pitches:
        page.get_by_role("checkbox", name=label, exact=True).check()
    page.get_by_label("使用期限开始日").fill(TERM_START.isoformat())
    page.get_by_label("使用期限结束日").fill(TERM_END.isoformat())
    page.get_by_label("报名截止时间").fill(close)
    page.get_by_role("button", name="开放本轮").click()


def test_an_officer_opens_and_draws_a_round_and_sees_the_results(
    page: Page, api: APIRequestContext, live_service: LiveService
) -> None:
    sign_in(page, OFFICE, OFFICE_PASSWORD)
    page.get_by_role("link", name="摊位分配轮次").first.click()
    expect(page.get_by_role("heading", name=re.compile("摊位分配轮次"))).to_be_visible()
    # The demo's round is listed with its count.
    expect(page.locator("#rounds")).to_contain_text("多福巷社区服务中心院落免费摊位 第一轮")

    name = "多福巷院落免费摊位 第四季度"
    _open_form(page, name, ["A4", "A5"], "2026-06-15T12:00")
    opened = page.locator("#opened")
    expect(opened).to_contain_text(f"轮次已开放：{name}")
    expect(opened).to_contain_text("种子承诺（SHA-256）")
    expect(opened).to_contain_text("秘密随机种子的哈希值")
    commitment = page.locator("#new-commitment").inner_text()
    assert HEX64.match(commitment)

    page.get_by_role("link", name="打开本轮页面").click()
    round_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator("#commitment")).to_have_text(commitment)
    expect(page.locator("#round-status")).to_have_text("报名中")
    expect(page.locator("#application-count")).to_have_text("0")
    expect(page.get_by_role("button", name="进行抽签")).to_be_hidden()

    pitch_ids = api.get(f"/api/v1/allocation-rounds/{round_id}").json()["pitch_ids"]
    assert len(pitch_ids) == 2
    first = _apply(api, round_id, "demo_vendor", [pitch_ids[0], pitch_ids[1]])
    second = _apply(api, round_id, "demo_vendor_zhao", [pitch_ids[1]])
    page.get_by_role("button", name="刷新报名数").click()
    expect(page.locator("#application-count")).to_have_text("2")

    live_service.set_time(dt.datetime(2026, 6, 15, 12, 30, tzinfo=CITY))
    page.reload()
    expect(page.locator("#round-status")).to_have_text("已截止，待抽签")
    page.get_by_role("button", name="进行抽签").click()

    expect(page.get_by_role("heading", name="抽签结果")).to_be_visible()
    expect(page.locator("#round-status")).to_have_text("已抽签")
    expect(page.locator("#seed-check")).to_contain_text("✓ 一致")
    seed = page.locator("#seed").inner_text()
    assert re.fullmatch(r"[0-9a-f]{64}", seed)
    expect(page.locator("#result-commitment")).to_have_text(commitment)
    command = f"flexreg verify-draw {live_service.url}/api/v1/allocation-rounds/{round_id}/results"
    expect(page.locator("#verify-command")).to_have_text(command)
    expect(page.locator("#results-json")).to_have_attribute("href", f"/api/v1/allocation-rounds/{round_id}/results")
    # Both applicants appear in the order; each got a pitch, shown by its label.
    order = page.locator("#order tbody tr")
    expect(order).to_have_count(2)
    expect(page.locator("#order")).to_contain_text(first["applicant_ref"])
    expect(page.locator("#order")).to_contain_text(second["applicant_ref"])
    expect(page.locator("#assignments tbody tr")).to_have_count(2)
    expect(page.locator("#assignments")).to_contain_text("A4")
    expect(page.locator("#assignments")).to_contain_text("A5")
    expect(page.locator("#holdings-table tbody tr")).to_have_count(2)
    page.locator("#results-section").scroll_into_view_if_needed()
    page.locator("#results-section").evaluate("section => section.scrollIntoView()")
    screenshot_for_readme(page, "round")

    # The public results say the same: the page shows what verify-draw recomputes.
    results = api.get(f"/api/v1/allocation-rounds/{round_id}/results").json()
    assert results["seed"] == seed
    assert results["seed_commitment"] == commitment


def test_a_close_in_the_past_is_shown_beside_its_field(page: Page) -> None:
    sign_in(page, OFFICE, OFFICE_PASSWORD)
    _open_form(page, "已截止的轮次", ["A3"], "2026-06-14T20:00")
    expect(page.locator("#error-applications_close_at")).to_contain_text("must be in the future")
    expect(page.get_by_label("报名截止时间")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").first).to_contain_text("请修改标出的内容")
    expect(page.locator("#opened")).to_be_empty()
    page.reload()
    expect(page.locator("#rounds")).not_to_contain_text("已截止的轮次")


def test_no_pitch_chosen_is_refused_naming_the_pitches(page: Page) -> None:
    sign_in(page, OFFICE, OFFICE_PASSWORD)
    _open_form(page, "没有摊位的轮次", [], "2026-06-20T20:00")
    expect(page.locator("#error-pitch_ids")).not_to_be_empty()


def test_the_pages_fit_a_phone(page: Page, live_service: LiveService) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, OFFICE, OFFICE_PASSWORD)
    for path in ("/console/rounds", f"/console/rounds/{live_service.city.round_id}"):
        page.goto(path)
        expect(page.locator("#commitment, #open-round-form").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path


def test_rounds_are_for_street_offices_and_admins(page: Page) -> None:
    response = page.goto("/console/rounds")
    assert response is not None
    expect(page.get_by_label("用户名")).to_be_visible()  # signed out: the sign-in form
    sign_in(page, "dept.health", "health-pass")
    response = page.goto("/console/rounds")
    assert response is not None
    assert response.status == 403  # a role with no part in rounds, as the API answers it


def test_an_admin_picks_a_jurisdiction_first(page: Page, live_service: LiveService) -> None:
    sign_in(page, "demo_admin", "demo-admin-pass")
    page.goto("/console/rounds")
    expect(page.get_by_text("管理员请先选择街道")).to_be_visible()
    page.get_by_label("选择街道").select_option("110101001000")
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_role("checkbox", name="A1", exact=True)).to_be_visible()
    response = page.goto(f"/console/rounds/{live_service.city.round_id}")
    assert response is not None
    assert response.status == 200
    expect(page.locator("#commitment")).to_have_text(HEX64)
