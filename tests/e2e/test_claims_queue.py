"""A street office's key-group verification queue in a real browser: the evidence previewed inline (an image and
a PDF, loaded through the API), a rejection without a reason refused beside its field, a verification, and
another office's claim hidden.

The claim verified here is the test's own (a vendor signed up through the API, with their evidence uploaded):
the demo's pending claim is left pending for everyone else, and is only looked at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from flexreg import demo_evidence
from flexreg.demo import DONGHUAMEN
from tests.builders import id_number, phone_number
from tests.e2e.conftest import LiveService, screenshot_for_readme, sign_in

STAFF = ("demo_donghuamen", "demo-staff-pass")


@contextmanager
def _api(live_service: LiveService, username: str, password: str) -> Iterator[httpx.Client]:
    """An API client signed in as `username` (a bearer token, as the phone app and back offices use)."""
    with httpx.Client(base_url=f"{live_service.url}/api/v1", timeout=30) as client:
        token = client.post("/auth/token", json={"username": username, "password": password})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def _own_pending_claim(live_service: LiveService) -> tuple[str, str]:
    """A new Donghuamen resident's pending claim citing an image and a PDF they uploaded: (claim id, name)."""
    username, password, name = f"claim_e2e_{uuid.uuid4().hex[:8]}", "claim-e2e-password", "周测试"
    with httpx.Client(base_url=f"{live_service.url}/api/v1", timeout=30) as public:
        signed_up = public.post(
            "/vendors",
            json={
                "username": username,
                "password": password,
                "name": name,
                "id_number": id_number(),
                "phone": phone_number(),
                "residence_jurisdiction": DONGHUAMEN[0],
            },
        )
        assert signed_up.status_code == 201, signed_up.text
    with _api(live_service, username, password) as vendor:
        files: list[Any] = [
            ("evidence.png", demo_evidence.sample_png("e2e evidence"), "image/png"),
            ("evidence.pdf", demo_evidence.sample_pdf(["e2e evidence"]), "application/pdf"),
        ]
        ids = []
        for file in files:
            uploaded = vendor.post("/documents", files={"file": file})
            assert uploaded.status_code == 201, uploaded.text
            ids.append(uploaded.json()["id"])
        claim = vendor.post(
            f"/vendors/{signed_up.json()['id']}/key-group-claims",
            json={
                "group": "laid_off_unemployed",
                "details": {"registered_unemployed_since": "2026-03-02"},
                "evidence_document_ids": ids,
            },
        )
        assert claim.status_code == 201, claim.text
        return str(claim.json()["id"]), name


def _expect_previews(page: Page) -> None:
    """The image has loaded (a real picture, not a broken one); the PDF frame holds the API's PDF."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.evidence-image')]"
        ".every((img) => img.complete && img.naturalWidth > 0) && document.querySelector('img.evidence-image')"
    )
    frame = page.locator("iframe.evidence-pdf")
    expect(frame).to_have_count(1)
    expect(frame).to_have_attribute("data-loaded", "true")
    expect(page.get_by_role("link", name="下载")).to_have_count(2)
    url = frame.get_attribute("data-src")
    assert url is not None
    answer = page.request.get(url)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")


def test_a_street_office_verifies_a_claim_after_previewing_its_evidence(page: Page, live_service: LiveService) -> None:
    claim_id, name = _own_pending_claim(live_service)
    sign_in(page, *STAFF)
    page.get_by_role("link", name="重点群体核验").first.click()
    expect(page.get_by_role("heading", name="重点群体核验 · 110101001000")).to_be_visible()
    row = page.locator(f'#claims tr[data-claim-id="{claim_id}"]')
    expect(row).to_contain_text("待核验")
    row.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name="重点群体认定：登记失业人员")).to_be_visible()
    _expect_previews(page)

    page.get_by_label("驳回（须说明理由）").check()
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#reason-error")).to_have_text("驳回必须填写理由。")
    expect(page.get_by_label("理由", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#claim-status")).to_have_text("待核验")

    page.get_by_label("核验通过").check()
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#decision-result")).to_contain_text("已核验通过，有效期至 2027-06-15")
    expect(page.locator("#claim-status")).to_have_text("已核验")
    expect(page.locator("#reason-error")).to_be_empty()
    page.reload()
    expect(page.locator("#claim-status")).to_have_text("已核验")
    expect(page.locator("#claim-valid-until")).to_have_text("2027-06-15")
    expect(page.locator("#claim-decision")).to_have_count(0)


def test_a_rejection_sends_its_reason_over_several_lines(page: Page, live_service: LiveService) -> None:
    claim_id, _name = _own_pending_claim(live_service)
    sign_in(page, *STAFF)
    page.goto(f"/console/claims/{claim_id}")
    page.get_by_label("驳回（须说明理由）").check()
    page.get_by_label("理由", exact=True).fill("失业登记证已过期\n请补充最新的登记证明")
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#decision-result")).to_contain_text("已驳回")
    page.reload()
    expect(page.locator("#claim-status")).to_have_text("已驳回")
    expect(page.locator("dd.lines")).to_have_text("失业登记证已过期\n请补充最新的登记证明")


def test_the_demo_claim_previews_its_evidence_also_on_a_phone(page: Page) -> None:
    sign_in(page, *STAFF)
    page.goto("/console/claims")
    page.locator("#claims tr", has_text="李秀英").get_by_role("link", name="李秀英").click()
    expect(page.get_by_role("heading", name="重点群体认定：登记失业人员")).to_be_visible()
    _expect_previews(page)
    page.locator("#claim-evidence").evaluate("(heading) => heading.scrollIntoView({ block: 'start' })")
    screenshot_for_readme(page, "claims")
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    _expect_previews(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto("/console/claims")
    expect(page.locator("#claims")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_claim_of_the_other_street_office_is_the_not_found_page(page: Page, live_service: LiveService) -> None:
    with _api(live_service, "demo_jingshan", "demo-staff-pass") as jingshan:
        theirs = jingshan.get("/key-group-claims", params={"status": "verified"})
        assert theirs.status_code == 200
        claim_id = theirs.json()["items"][0]["id"]
    sign_in(page, *STAFF)
    response = page.goto(f"/console/claims/{claim_id}")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()


def test_a_stale_decision_says_someone_else_decided_first(context: BrowserContext, live_service: LiveService) -> None:
    claim_id, _name = _own_pending_claim(live_service)
    first, second = context.new_page(), context.new_page()
    sign_in(first, *STAFF)
    first.goto(f"/console/claims/{claim_id}")
    second.goto(first.url)
    first.get_by_role("button", name="提交决定").click()
    expect(first.locator("#decision-result")).to_contain_text("已核验通过")
    second.get_by_label("驳回（须说明理由）").check()
    second.get_by_label("理由", exact=True).fill("证明材料不清晰")
    second.get_by_role("button", name="提交决定").click()
    expect(second.get_by_role("alert")).to_contain_text("其他人已先对该申请作出决定")
    expect(second.locator("#claim-status")).to_have_text("待核验")
