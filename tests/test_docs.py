"""The docs at /schema work offline: the page names no outside host, and the app serves everything it loads."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from flexreg import docs
from tests.conftest import ROOT

# What a browser may fetch: tag attributes, CSS url(...) and @import.
_CSS_URL = re.compile(r"""url\(\s*(?P<quote>['"]?)(?P<url>.*?)(?P=quote)\s*\)|@import\s+['"](?P<imported>[^'"]+)['"]""")
_ABSOLUTE = re.compile(r"(?<![A-Za-z0-9+.-])(?:https?:)?//[A-Za-z0-9]")
_CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "data", "srcset") and value:
                self.urls.append(value)
            if name == "style" and value:
                self.styles.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _css_urls(css: str) -> list[str]:
    found = (match.group("url") or match.group("imported") for match in _CSS_URL.finditer(css))
    return [url for url in found if url]


def _assert_local(url: str, base: str) -> str:
    """The reference as a path on this app; fails if it names another host."""
    parts = urlsplit(urljoin(base, url))
    assert parts.scheme in ("http", "data"), url
    if parts.scheme == "http":
        assert parts.netloc == "testserver", f"the docs page loads {url} from another host"
    return parts.path


async def test_docs_page_loads_nothing_from_outside_and_every_asset_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(page.text)
    references = parser.urls + [url for style in parser.styles for url in _css_urls(style)]
    # The stylesheet, both scripts and the icon, each from the app.
    assert len(parser.urls) >= 4, parser.urls

    # Beyond tag attributes: the page's own text names no outside address either. The OpenAPI document it embeds
    # (prose written by the API's authors, fetched separately below) is cut out first.
    spec = (await client.get("/schema/openapi.json")).text
    rest = page.text.replace(spec, "{}")
    assert len(rest) < len(page.text), "the page should embed the OpenAPI document verbatim"
    assert not _ABSOLUTE.search(rest), _ABSOLUTE.findall(rest)

    fetched: set[str] = set()
    while references:
        url = references.pop()
        path = _assert_local(url, "http://testserver/schema")
        if url.startswith("data:") or path in fetched:
            continue
        fetched.add(path)
        asset = await client.get(path)
        assert asset.status_code == 200, path
        suffix = path[path.rfind(".") :]
        assert _CONTENT_TYPES[suffix] in asset.headers["content-type"], (path, asset.headers["content-type"])
        if suffix == ".css":
            references += [ref for ref in _css_urls(asset.text) if not ref.startswith("data:")]
    assert {
        f"{docs.ASSETS_PATH}/swagger-ui-bundle.js",
        f"{docs.ASSETS_PATH}/swagger-ui-standalone-preset.js",
        f"{docs.ASSETS_PATH}/swagger-ui.css",
        f"{docs.ASSETS_PATH}/favicon-32x32.png",
    } <= fetched


async def test_root_leads_to_the_docs(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["location"] == "/schema"


@pytest.mark.parametrize("path", ["/%2e%2e/docs.py", "/..%2f..%2fpyproject.toml", "/", "/no-such.js"])
async def test_assets_serve_only_the_vendored_files(client: httpx.AsyncClient, path: str) -> None:
    """No way out of the assets folder, no directory listing: anything else is a plain 404 problem."""
    response = await client.get(docs.ASSETS_PATH + path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_vendored_viewer_is_packaged_with_its_licence() -> None:
    """Every file the page loads ships in the wheel (package-data) together with the licence and notice."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["flexreg"]
    package = ROOT / "src" / "flexreg"
    packaged = {path for pattern in globs for path in package.glob(pattern) if path.is_file()}
    names = {path.name for path in packaged if path.parent == docs.ASSETS_DIR}
    assert {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"} <= names
    assert {"LICENSE", "NOTICE", "package.json"} <= names
    assert "Apache License" in (docs.ASSETS_DIR / "LICENSE").read_text()
