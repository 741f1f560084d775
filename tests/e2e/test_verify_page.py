"""The public verification page in a real browser: the token from the link's fragment checked against the published
keys with WebCrypto, a tampered token or page flagged, the service worker's offline check, a 360-px phone screen.

The browser's clock is set to the service's fixed instant (tests.clock.START), so the token's `nbf`/`exp` are
judged at the same moment the server judges the permit's status.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from flexreg.demo_permits import DemoPermit
from tests.clock import START
from tests.e2e.conftest import LiveService, screenshot_for_readme


@pytest.fixture
def permit(live_service: LiveService) -> DemoPermit:
    assert live_service.city.permits is not None
    assert live_service.city.permits.permit is not None
    return live_service.city.permits.permit


@pytest.fixture(autouse=True)
def service_clock(context: BrowserContext) -> None:
    context.clock.set_fixed_time(START)


def _path(permit: DemoPermit) -> str:
    """The verification link as its QR code carries it, on the live server (path and fragment)."""
    link = urlsplit(permit.verification_url)
    return f"{link.path}#{link.fragment}"


def _token(permit: DemoPermit) -> str:
    return urlsplit(permit.verification_url).fragment


def _signature(page: Page) -> object:
    return page.get_by_role("status")


def test_a_valid_permit_shows_valid_and_its_signature_checks(page: Page, permit: DemoPermit) -> None:
    page.goto(_path(permit))
    expect(page.get_by_role("heading", name="许可证核验")).to_be_visible()
    expect(page.locator("#status-word")).to_contain_text("有效")
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
    expect(_signature(page)).to_contain_text("电子签名有效，内容与许可证一致。")
    expect(_signature(page)).to_contain_text("已联网核验：2026-06-15 10:00")
    expect(page.locator('[data-field="number"]')).to_have_text(permit.number)
    expect(page.locator('[data-field="holder"]')).to_have_text(re.compile(r"^\S\*+$"))


def test_a_token_with_one_payload_character_changed_is_flagged(page: Page, permit: DemoPermit) -> None:
    header, payload, signature = _token(permit).split(".")
    middle = len(payload) // 2
    changed = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    page.goto(f"/verify/{permit.number}#{header}.{changed}.{signature}")
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_bad")
    expect(page.get_by_role("status")).to_contain_text("电子签名无效：二维码或页面内容被篡改，请勿采信。")


def test_a_token_naming_an_unpublished_key_is_flagged(page: Page, permit: DemoPermit) -> None:
    _, payload, signature = _token(permit).split(".")
    header = base64.urlsafe_b64encode(b'{"alg":"EdDSA","kid":"not-a-published-key","typ":"permit+jwt"}')
    page.goto(f"/verify/{permit.number}#{header.decode().rstrip('=')}.{payload}.{signature}")
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_unknown_key")
    expect(page.get_by_role("status")).to_contain_text("签名所用的密钥不在已发布的密钥中")


def test_a_tampered_page_with_a_genuine_token_names_what_differs(page: Page, permit: DemoPermit) -> None:
    def altered(route: object) -> None:
        response = route.fetch()  # type: ignore[attr-defined]
        body = re.sub(r'(data-field="holder">)[^<]*', r"\1李*", response.text())
        route.fulfill(response=response, body=body)  # type: ignore[attr-defined]

    page.route(f"**/verify/{permit.number}", altered)
    page.goto(_path(permit))
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_mismatch")
    expect(page.get_by_role("status")).to_contain_text("与本页显示的许可证内容不一致：持证人")


def test_a_link_without_its_token_says_so(page: Page, permit: DemoPermit) -> None:
    page.goto(f"/verify/{permit.number}")
    expect(page.locator("#status-word")).to_contain_text("有效")
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_missing")
    expect(page.get_by_role("status")).to_contain_text("链接中没有签名令牌")


def test_an_unknown_number_is_a_404_page(page: Page) -> None:
    answer = page.goto("/verify/XK-2026-0000000000000001")
    assert answer is not None
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    expect(page.get_by_text("没有这个编号的许可证")).to_be_visible()


def test_offline_the_worker_shows_the_permit_from_the_checked_token(
    page: Page, context: BrowserContext, permit: DemoPermit
) -> None:
    page.goto(_path(permit))
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "true")  # the worker kept the language
    context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
        expect(page.get_by_role("status")).to_contain_text("离线核验，所用密钥与撤销名单更新于 2026-06-15 10:00")
        expect(page.get_by_text("以下内容来自已核验的签名令牌。")).to_be_visible()
        expect(page.locator("#status-word")).to_contain_text("有效")
        expect(page.locator('[data-field="number"]')).to_have_text(permit.number)
        expect(page.locator('[data-field="holder"]')).to_have_text(re.compile(r"^\S\*+$"))
        expect(page.locator('[data-field="hours"]')).to_contain_text("09:00–17:00")
    finally:
        context.set_offline(False)


def test_on_a_360_px_phone_nothing_scrolls_sideways(page: Page, permit: DemoPermit) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(_path(permit))
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot_for_readme(page, "verify")


def test_english_on_request_keeps_the_token(page: Page, permit: DemoPermit) -> None:
    page.goto(_path(permit))
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
    page.get_by_role("link", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Permit verification")).to_be_visible()
    expect(page.locator("#status-word")).to_contain_text("Valid")
    expect(page.get_by_role("status")).to_contain_text("The signature is valid and matches this permit.")
    assert "lang=en" in page.url
    assert page.url.endswith(_token(permit))


def test_the_skip_link_is_the_first_tab_stop(page: Page, permit: DemoPermit) -> None:
    page.goto(_path(permit))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()


def test_offline_the_worker_answers_in_the_language_last_chosen(
    page: Page, context: BrowserContext, permit: DemoPermit
) -> None:
    link = urlsplit(permit.verification_url)
    page.goto(f"{link.path}?lang=en#{link.fragment}")
    expect(page.locator("#signature")).to_have_attribute("data-outcome", "signature_ok")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "true")  # the worker kept the language
    context.set_offline(True)
    try:
        page.goto(_path(permit))  # no ?lang=: the worker remembers the page's language
        expect(page.get_by_role("status")).to_contain_text(
            "Checked offline, with keys and the revocation list as of 2026-06-15 10:00"
        )
        expect(page.locator("#status-word")).to_contain_text("Valid")
        expect(page.get_by_text("What follows is from the checked signed token.")).to_be_visible()
    finally:
        context.set_offline(False)
