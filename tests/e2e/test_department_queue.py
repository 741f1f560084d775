"""A department reviewer's queue in a real browser: the API's order and clocks, a decision, a stale decision."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import screenshot_for_readme, sign_in


def _open_first_task(page: Page) -> None:
    page.goto("/console/queue")
    page.locator("#queue tbody tr a").first.click()
    expect(page.get_by_role("heading", name="作出决定")).to_be_visible()


def test_a_reviewer_approves_a_task_from_the_queue(page: Page) -> None:
    sign_in(page, "dept.market_regulation", "market-regulation-pass")
    page.get_by_role("link", name="待办审批").first.click()
    expect(page.get_by_role("heading", name="待办审批 · market_regulation")).to_be_visible()
    rows = page.locator("#queue tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#queue thead")).to_contain_text("剩余工作日")
    screenshot_for_readme(page, "queue")
    _open_first_task(page)
    page.get_by_label("附加条件（每行一条）").fill("保持通道畅通\n收摊后清理场地")
    page.get_by_role("button", name="提交决定").click()
    expect(page.get_by_role("status")).to_contain_text("决定已提交")
    page.reload()
    expect(page.locator("#task-status")).to_have_text("已批准")


def test_a_stale_decision_says_someone_else_decided_first(context: BrowserContext) -> None:
    first, second = context.new_page(), context.new_page()
    sign_in(first, "dept.health", "health-pass")
    _open_first_task(first)
    second.goto(first.url)
    first.get_by_role("button", name="提交决定").click()
    expect(first.get_by_role("status")).to_contain_text("决定已提交")
    second.get_by_label("不予许可（须说明理由）").check()
    second.get_by_label("说明或理由").fill("场地不符合卫生要求")
    second.get_by_role("button", name="提交决定").click()
    expect(second.get_by_role("status")).to_contain_text("其他人已先对该事项作出决定")


def test_a_street_office_has_no_queue(page: Page) -> None:
    sign_in(page, "demo_donghuamen", "demo-staff-pass")
    response = page.goto("/console/queue")
    assert response is not None
    assert response.status == 403
