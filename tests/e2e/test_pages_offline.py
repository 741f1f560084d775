"""What the service's own pages load when nothing outside the machine answers: /schema and the console render
from the app alone. Every request to another host is refused and recorded; the test fails if one is made."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.e2e.conftest import LiveService, sign_in


def _refuse_other_hosts(context: BrowserContext, live_service: LiveService) -> list[str]:
    own = urlsplit(live_service.url).netloc
    outside: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", handle)
    return outside


def test_the_api_docs_render_with_no_way_out(context: BrowserContext, page: Page, live_service: LiveService) -> None:
    outside = _refuse_other_hosts(context, live_service)
    # The page's Content-Security-Policy (flexreg.docs) must allow all Swagger UI does.
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.goto("/schema")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("flexreg")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    expect(page.get_by_text("/api/v1/permits/{number}", exact=True).first).to_be_attached()
    assert outside == []
    assert refused == []


def test_the_console_map_renders_with_no_way_out(
    context: BrowserContext, page: Page, live_service: LiveService
) -> None:
    outside = _refuse_other_hosts(context, live_service)
    sign_in(page, "demo_jingshan", "demo-staff-pass")
    page.goto("/console/map")
    expect(page.locator("#places tbody tr").first).to_contain_text("沙滩北街")
    expect(page.locator("#map .leaflet-overlay-pane path").first).to_be_attached()
    assert outside == []
