"""Signing in to the console in a real browser: the form, a refusal, the role's pages, the language switch."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in


def test_a_street_office_signs_in_sees_its_pages_and_signs_out(page: Page) -> None:
    page.goto("/console")
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    page.get_by_label("用户名").fill("demo_donghuamen")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码不正确。")
    sign_in(page, "demo_donghuamen", "demo-staff-pass")
    expect(page.get_by_role("link", name="场地地图").first).to_be_visible()
    expect(page.get_by_text("110101001000")).to_be_visible()
    page.get_by_role("link", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Console")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def test_a_vendor_is_sent_to_the_phone_app(page: Page) -> None:
    page.goto("/console")
    page.get_by_label("用户名").fill("demo_vendor")
    page.get_by_label("密码").fill("demo-vendor-pass")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("经营者账号不能登录工作台，请使用手机应用。")
