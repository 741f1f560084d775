"""The pages the service serves itself: the staff console (/console) and the public verification page (/verify).

Every asset is the app's own: its templates and scripts here, Leaflet from the `xstatic-leaflet` package.
Nothing is fetched from a CDN or an outside tile server (none is reachable where cities run this).
"""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from flexreg.console.claims import ClaimPages
from flexreg.console.map_page import MapPage
from flexreg.console.pages import LEAFLET_PATH, STATIC_PATH, ConsolePages
from flexreg.console.queue import QueuePages
from flexreg.console.rounds import RoundPages
from flexreg.console.verify import VerifyPage

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def _static(path: str, directory: Path, name: str, max_age: int) -> Router:
    return create_static_files_router(
        path=path,
        directories=[directory],
        name=name,
        cache_control=CacheControlHeader(public=True, max_age=max_age),
        include_in_schema=False,
    )


def route_handlers() -> list[ControllerRouterHandler]:
    # The console's own files change with each release (an hour); Leaflet's only with the pinned package (a day).
    return [
        ConsolePages,
        MapPage,
        QueuePages,
        VerifyPage,
        RoundPages,
        ClaimPages,
        _static(LEAFLET_PATH, Path(xstatic_leaflet.BASE_DIR), "console-leaflet", 86400),
        _static(STATIC_PATH, STATIC, "console-static", 3600),
    ]
