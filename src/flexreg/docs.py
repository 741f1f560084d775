"""The API docs at /schema, served whole by the app: cities run this on intranets with no way to a CDN.

The viewer is Swagger UI from the npm package `swagger-ui-dist` (Apache-2.0), pinned and vendored under
`static/swagger-ui/` with its licence; `tools/refresh-swagger-ui VERSION` replaces it. Every address the page
names (script, stylesheet, favicon) points into the app; Litestar's defaults would name a CDN for each.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

DOCS_PATH = "/schema"
ASSETS_PATH = f"{DOCS_PATH}/swagger-ui"
ASSETS_DIR = Path(__file__).resolve().parent / "static" / "swagger-ui"
# The page's Content-Security-Policy (core.security_headers gives it to HTML that sets none): everything from the
# app. Litestar's page starts Swagger UI with an inline script holding the whole schema, hence 'unsafe-inline'
# for scripts: the schema is the app's own text, nothing a caller wrote. Swagger UI styles elements inline and
# draws its icons as data: images; "Try it out" calls the API on the same origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)


def render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at /schema, loading its script, styles and icon from the app."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        path="/",
    )


def assets_router() -> Router:
    """The vendored viewer files; they change only with a release, so browsers may keep them for a day."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="docs-assets",
        cache_control=CacheControlHeader(public=True, max_age=86400),
        include_in_schema=False,
    )


@get("/", include_in_schema=False, sync_to_thread=False)
def to_docs() -> Redirect:
    """The service's root leads a visitor to the docs."""
    return Redirect(DOCS_PATH)
