"""/console/map: a street office's jurisdiction on a map, its places and pitches, drawn and checked by the API.

The page is a shell: its script (static/map.js) reads the jurisdiction, venues and each venue's map from
/api/v1 and sends new pitches and venues there, so what it shows and refuses is exactly the API's. Without a
configured tile server (FLEXREG_TILE_URL) the map is a plain background with the jurisdiction's outline: no
outside tiles are reachable where cities run this.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Redirect, Template

from core.deps import DbSession
from core.http_guard import QUERY_OPT
from flexreg.console import i18n
from flexreg.console.pages import CONSOLE_PATH, Staff, not_found_page, page_context, render, settings_of, staff_in_role
from registry import jurisdictions
from registry.catalogue import CATEGORIES
from registry.errors import JurisdictionNotFound
from venues.siting import load_siting_rules


class MapPage(Controller):
    path = CONSOLE_PATH
    include_in_schema = False

    @get("/map", opt={QUERY_OPT: ("lang", "jurisdiction")})
    async def map_page(self, request: Request[Any, Any, Any], session: DbSession) -> Template | Redirect:
        staff = await staff_in_role(request, session, "street_office", "admin")
        if not isinstance(staff, Staff):
            return staff
        settings = settings_of(request)
        # A street office sees its own jurisdiction; an admin names one (default: the first street-level one).
        code = staff.principal.jurisdiction_code or request.query_params.get("jurisdiction")
        choices = []
        if staff.principal.role == "admin":
            listed = await jurisdictions.list_jurisdictions(session, limit=200)
            choices = [item for item in listed.items if jurisdictions.is_street_level(item.code)]
        if code is None and choices:
            code = choices[0].code
        try:
            jurisdiction = None if code is None else await jurisdictions.get_jurisdiction(session, code)
        except JurisdictionNotFound:
            return not_found_page(request)
        if jurisdiction is None:
            return not_found_page(request)
        language = i18n.language_of(request)
        rules = load_siting_rules()
        config = {
            "jurisdiction": jurisdiction.code,
            "tileUrl": settings.http.tile_url,
            "tileAttribution": settings.http.tile_attribution,
            "messages": i18n.catalogue(language, "map_"),
            "featureKinds": {kind: i18n.translate(language, f"map_feature_{kind}") for kind in rules.kinds},
            "categories": {category: i18n.translate(language, f"map_category_{category}") for category in CATEGORIES},
        }
        context = page_context(
            request,
            staff,
            page="map",
            jurisdiction=jurisdiction,
            jurisdictions=choices,
            config=config,
            feature_kinds=sorted(rules.kinds),
            categories=sorted(CATEGORIES),
        )
        return render(request, "map.html", context)
