"""A department reviewer's queue in a real browser: the API's order and clocks, a decision, a stale decision."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import LiveService, screenshot_for_readme, sign_in


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


def test_a_reviewer_previews_the_materials_a_supplement_brought(page: Page, live_service: LiveService) -> None:
    """The demo's in-review application answered health's notice with a picture: every department with a task on
    it (here market regulation, which did not ask) sees it inline, read through the documents API."""
    permits = live_service.city.permits
    assert permits is not None
    [application] = [a for a in permits.applications if a.activity_code == "cooked_snacks"]
    sign_in(page, "dept.market_regulation", "market-regulation-pass")
    read = page.request.get(f"/api/v1/applications/{application.id}")
    assert read.status == 200, read.text()
    task = next(t for t in read.json()["tasks"] if t["department"] == "market_regulation")
    page.goto(f"/console/tasks/{task['id']}")
    materials = page.get_by_role("region", name="申请材料")
    expect(materials).to_contain_text("每次预览和下载均记入个人信息访问日志")
    image = materials.get_by_role("img", name="图片材料 1")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.evidence-image'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    url = image.get_attribute("src")
    assert url is not None
    assert "purpose=permit_review" in url
    answer = page.request.get(url)
    assert answer.status == 200
    assert answer.headers["content-type"] == "image/png"
    expect(materials.get_by_role("link", name="下载")).to_have_count(1)
    page.set_viewport_size({"width": 360, "height": 740})
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_department_without_a_task_on_it_cannot_read_its_materials(page: Page, live_service: LiveService) -> None:
    permits = live_service.city.permits
    assert permits is not None
    [application] = [a for a in permits.applications if a.activity_code == "cooked_snacks"]
    sign_in(page, "dept.health", "health-pass")
    tasks = page.request.get(f"/api/v1/applications/{application.id}").json()["tasks"]
    task = next(t for t in tasks if t["department"] == "health")
    page.goto(f"/console/tasks/{task['id']}")
    src = page.locator("img.evidence-image").first.get_attribute("src")
    assert src is not None
    document_url = src.split("?")[0].removesuffix("/content")
    assert page.request.get(document_url).status == 200
    page.context.clear_cookies()
    sign_in(page, "dept.urban_management", "urban-management-pass")
    assert page.request.get(document_url).status == 404
