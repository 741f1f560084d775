"""The street office's map in a real browser: places, pitches and restricted features drawn from the API, a pitch
too close to a hydrant refused with the distance, a valid one saved and shown; an existing pitch moved the same
way, and a move made on a stale copy refused and the pitch reloaded."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from playwright.sync_api import Page, expect

from flexreg.demo import COURTYARD, COURTYARD_AT
from tests.e2e.conftest import screenshot_for_readme, sign_in


def _click_at(page: Page, corners: list[tuple[float, float]]) -> None:
    """Centre the map on these points (metres east and north of the courtyard's south-west corner), zoomed in,
    and click each where the map draws it."""
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


def _click_corners(page: Page, corners: list[tuple[float, float]]) -> None:
    """Click each corner where the map draws it, then Finish."""
    _click_at(page, corners)
    page.get_by_role("button", name="完成").click()


def _api(page: Page, method: str, path: str, body: object = None, if_match: str | None = None) -> dict[str, Any]:
    """Call the API as the signed-in page would (its session cookie and CSRF token): someone else at work."""
    answer: dict[str, Any] = page.evaluate(
        """async ([method, path, body, ifMatch]) => {
            const headers = { Accept: "application/json" };
            if (body !== null) {
              headers["Content-Type"] = "application/json";
              headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
            }
            if (ifMatch) headers["If-Match"] = ifMatch;
            const response = await fetch(path, { method, headers, credentials: "same-origin",
              body: body === null ? undefined : JSON.stringify(body) });
            return { status: response.status, etag: response.headers.get("ETag"), body: await response.json() };
        }""",
        [method, path, body, if_match],
    )
    return answer


def _box(x0: float, y0: float, x1: float, y1: float) -> Any:
    return msgspec.to_builtins(COURTYARD_AT.box(x0, y0, x1, y1))


def _typed(corners: list[tuple[float, float]]) -> str:
    """The corners as the coordinates box shows them (longitude, latitude; one a line)."""
    return "\n".join("{:.7f}, {:.7f}".format(*COURTYARD_AT.position(x, y)) for x, y in corners)


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


def test_a_street_office_moves_a_pitch_next_to_the_hydrant_then_to_a_valid_spot(page: Page) -> None:
    sign_in(page, "demo_donghuamen", "demo-staff-pass")
    page.get_by_role("link", name="场地地图").first.click()
    table = page.locator("#places")
    expect(table).to_contain_text(COURTYARD)
    venue_id = page.locator("#places tr", has_text=COURTYARD).get_attribute("data-venue-id")
    # This test's own pitch, south of the north wall's pitches and clear of the hydrant and the school gate.
    made = _api(
        page, "POST", f"/api/v1/venues/{venue_id}/pitches", {"label": "E1", "geometry": _box(50, 15, 51.5, 16.2)}
    )
    assert made["status"] == 201, made
    pitch_id = made["body"]["id"]
    page.reload()
    expect(table).to_contain_text("E1")

    # Picked on the map: its corners are loaded into the drawing tool.
    _click_at(page, [(50.75, 15.6)])
    expect(page.locator("#edit-title")).to_have_text("正在修改摊位 E1 的位置")
    coordinates = page.get_by_label("顶点坐标")
    expect(coordinates).to_have_value(re.compile(r"^(\d+\.\d{7}, \d+\.\d{7}\n){3}\d+\.\d{7}, \d+\.\d{7}$"))
    expect(coordinates).to_have_value(re.compile(re.escape(_typed([(50, 15)]))))

    # Moved by clicking its corners again, 4 m from the courtyard's hydrant (at 5, 15): refused, with the distance.
    page.get_by_role("button", name="重新点选顶点").click()
    _click_corners(page, [(9.0, 14.0), (10.5, 14.0), (10.5, 15.2), (9.0, 15.2)])
    page.get_by_role("button", name="检查并保存修改").click()
    refusal = page.locator("#map-result")
    expect(refusal).to_contain_text("未通过以下检查，摊位位置未修改")
    expect(refusal.locator("li.failed")).to_contain_text("消火栓")
    expect(refusal.locator("li.failed")).to_contain_text("须大于 30 米")
    expect(refusal.locator("li.failed")).to_contain_text("还差")
    assert _api(page, "GET", f"/api/v1/pitches/{pitch_id}")["body"]["geometry"] == made["body"]["geometry"]

    # Meanwhile someone else moves it: the page's copy is stale, its change refused and the pitch reloaded.
    current = _api(page, "GET", f"/api/v1/pitches/{pitch_id}")
    moved = _api(page, "PATCH", f"/api/v1/pitches/{pitch_id}", {"geometry": _box(50, 20, 51.5, 21.2)}, current["etag"])
    assert moved["status"] == 200, moved
    valid = [(50.0, 8.0), (51.5, 8.0), (51.5, 9.2), (50.0, 9.2)]
    coordinates.fill(_typed(valid))
    page.get_by_role("button", name="检查并保存修改").click()
    expect(refusal).to_contain_text("有人先修改了摊位 E1")
    expect(coordinates).to_have_value(re.compile(re.escape(_typed([(50, 20)]))))

    # Typed again over the latest shape, at a valid spot: saved, and the map shows it there.
    coordinates.fill(_typed(valid))
    page.get_by_role("button", name="检查并保存修改").click()
    expect(refusal).to_contain_text("摊位 E1 的新位置已通过全部检查并保存")
    expect(page.locator("#edit-form")).to_be_hidden()
    saved = _api(page, "GET", f"/api/v1/pitches/{pitch_id}")["body"]["geometry"]["coordinates"][0]
    assert saved[0] == COURTYARD_AT.position(50.0, 8.0)
    expect(table).to_contain_text("E1")
    _click_at(page, [(50.75, 8.6)])
    expect(page.locator("#edit-title")).to_have_text("正在修改摊位 E1 的位置")
    expect(coordinates).to_have_value(_typed(valid))

    # From the places table, by keyboard: the edit button loads it too.
    page.get_by_role("button", name="取消").click()
    page.get_by_role("button", name="修改摊位 E1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#edit-title")).to_have_text("正在修改摊位 E1 的位置")
    expect(coordinates).to_be_focused()

    # Its corners can be dragged on the map as well: the coordinates box follows (nothing saved until asked).
    handle = page.locator(".vertex-handle").first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 30, steps=5)
    page.mouse.up()
    expect(coordinates).not_to_have_value(_typed(valid))
    expect(page.locator(".vertex-handle")).to_have_count(4)


def test_a_department_has_no_map(page: Page) -> None:
    sign_in(page, "dept.health", "health-pass")
    response = page.goto("/console/map")
    assert response is not None
    assert response.status == 403
