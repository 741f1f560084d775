"""The street office's map in a real browser: places, pitches and restricted features drawn from the API, a pitch
too close to a hydrant refused with the distance, a valid one saved and shown."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from flexreg.demo import COURTYARD, COURTYARD_AT
from tests.e2e.conftest import screenshot_for_readme, sign_in


def _click_corners(page: Page, corners: list[tuple[float, float]]) -> None:
    """Click each corner (metres east and north of the courtyard's south-west corner) where the map draws it."""
    centre = COURTYARD_AT.position(sum(x for x, _ in corners) / len(corners), sum(y for _, y in corners) / len(corners))
    page.evaluate("([lon, lat]) => flexregMap.setView([lat, lon], 21, {animate: false})", centre)
    box = page.locator("#map").bounding_box()
    assert box is not None
    for x, y in corners:
        point = page.evaluate(
            "([lon, lat]) => { const p = flexregMap.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            COURTYARD_AT.position(x, y),
        )
        page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.get_by_role("button", name="完成").click()


def test_a_street_office_draws_a_refused_pitch_then_a_valid_one(page: Page) -> None:
    sign_in(page, "demo_donghuamen", "demo-staff-pass")
    page.get_by_role("link", name="场地地图").first.click()
    expect(page.get_by_role("heading", name="场地地图", exact=False).first).to_be_visible()
    table = page.locator("#places")
    expect(table).to_contain_text(COURTYARD)
    expect(table).to_contain_text("A1")

    # 5 m from the courtyard's own hydrant (at 5, 15), where 30 m are required.
    page.get_by_role("button", name="画摊位").click()
    _click_corners(page, [(9.0, 14.0), (10.5, 14.0), (10.5, 15.2), (9.0, 15.2)])
    expect(page.get_by_label("所在场地")).to_have_value(
        page.locator("#places tr", has_text=COURTYARD).get_attribute("data-venue-id") or ""
    )
    page.get_by_label("摊位编号").fill("H1")
    page.get_by_role("button", name="检查并保存摊位").click()
    refusal = page.locator("#map-result")
    expect(refusal).to_contain_text("未通过以下检查")
    expect(refusal.locator("li.failed")).to_contain_text("消火栓")
    expect(refusal.locator("li.failed")).to_contain_text("须大于 30 米")
    expect(refusal.locator("li.failed")).to_contain_text("还差")
    page.get_by_role("button", name=COURTYARD).click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot_for_readme(page, "map")
    expect(table).not_to_contain_text("H1")

    # Between the hydrant's and the school gate's buffers, off the north wall's pitches.
    page.get_by_role("button", name="画摊位").click()
    _click_corners(page, [(56.0, 18.0), (57.5, 18.0), (57.5, 19.2), (56.0, 19.2)])
    page.get_by_label("摊位编号").fill("B1")
    page.get_by_role("button", name="检查并保存摊位").click()
    expect(page.locator("#map-result")).to_contain_text("摊位 B1 已通过全部检查并保存")
    expect(table).to_contain_text("B1")


def test_a_department_has_no_map(page: Page) -> None:
    sign_in(page, "dept.health", "health-pass")
    response = page.goto("/console/map")
    assert response is not None
    assert response.status == 403
