"""/verify/{number}: the public page a permit's QR code opens, and the service worker that keeps it working offline.

The page shows what GET /permits/{number} shows, never more: today's status in large type, the masked holder,
the last four ID characters, activity, place, hours, validity, conditions and departments. Its script
(static/verify.js) checks the signed token the link carries in its fragment against the published keys, so a
tampered token or page shows as such. The service worker (static/verify-sw.js, served at /verify/sw.js so its
scope is /verify/) keeps a shell page that needs no server data: with no network it renders the permit from the
checked token and says as of when its keys and revocation list were fetched.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from core.deps import DbSession
from core.http_guard import ANY_QUERY_OPT, QUERY_OPT
from flexreg.console import i18n
from flexreg.console.i18n import Language
from flexreg.console.pages import content_security_policy, not_found_page, page_context, render, settings_of
from permits import issuance
from permits.api.permits import PermitOut, permit_out
from permits.errors import PermitNotFound
from permits.issuance import PermitHours
from registry import catalogue

VERIFY_PATH: Final = "/verify"
KEYS_URL: Final = "/api/v1/permit-signing-keys"
REVOCATIONS_URL: Final = "/api/v1/permit-revocations"
_WORKER = Path(__file__).resolve().parent / "static" / "verify-sw.js"
# A permit's link is shared through messaging apps that append their own parameters (?from=singlemessage…):
# the page reads `lang` and ignores the rest, so an inspector never gets a JSON error instead of the permit.
_LANG_OPT: Final = {QUERY_OPT: ("lang",), ANY_QUERY_OPT: True}
ICONS: Final = {"valid": "✓", "expired": "⌛", "suspended": "‖", "revoked": "✕"}


def _weekdays(language: Language, days: list[int]) -> str:
    if sorted(days) == list(range(1, 8)):
        return i18n.translate(language, "every_day")
    names = i18n.translate(language, "weekday_names").split(",")
    return i18n.translate(language, "list_separator").join(names[day - 1] for day in sorted(days))


def _minute(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def hours_lines(language: Language, hours: PermitHours, zone: ZoneInfo) -> list[str]:
    """The permit's hours as lines a person reads, in the city's time (verify.js formats a token's the same way)."""
    lines = [f"{_weekdays(language, list(window.days))} {window.start}–{window.end}" for window in hours.schedule]
    for period in hours.periods:
        start, end = period.start.astimezone(zone), period.end.astimezone(zone)
        tail = end.strftime("%H:%M") if start.date() == end.date() else _minute(end, zone)
        lines.append(f"{_minute(start, zone)}–{tail}")
    return lines


def names(language: Language) -> dict[str, dict[str, str]]:
    """Activity and department names by code: what the offline shell shows for a token's codes."""
    loaded = catalogue.load_catalogue()
    english = language == "en"
    return {
        "activities": {code: a.name_en if english else a.name_zh for code, a in loaded.activities.items()},
        "departments": {code: d.name_en if english else d.name_zh for code, d in loaded.departments.items()},
    }


# The texts verify.js shows; never the whole catalogue (the staff pages' words have no business here).
_SCRIPT_PREFIXES = ("status_", "signature_", "checked_", "offline_", "token_", "verify_")
_SCRIPT_KEYS = (
    "valid_from",
    "valid_to",
    "activity",
    "date_to",
    "departments",
    "every_day",
    "holder",
    "hours",
    "id_last4",
    "list_separator",
    "permit_number",
    "pitch",
    "place",
    "valid_dates",
    "weekday_names",
    "conditions",
    "none",
    "from_token",
)


def _script_data(request: Request[Any, Any, Any], language: Language, number: str | None) -> dict[str, Any]:
    """What verify.js is given (rendered with |tojson): no personal data, only the number and the page's texts."""
    return {
        "number": number,
        "lang": language,
        "timezone": settings_of(request).timezone,
        "keys_url": KEYS_URL,
        "revocations_url": REVOCATIONS_URL,
        "worker_url": f"{VERIFY_PATH}/sw.js",
        "scope": f"{VERIFY_PATH}/",
        "messages": i18n.catalogue(language, _SCRIPT_PREFIXES, keys=_SCRIPT_KEYS),
        "names": names(language),
    }


def _facts(language: Language, permit: PermitOut, zone: ZoneInfo) -> dict[str, Any]:
    found = catalogue.load_catalogue()
    activity = found.find_activity(permit.activity)
    activity_name = (activity.name_en if language == "en" else activity.name_zh) if activity else permit.activity
    departments = [
        (found.departments[code].name_en if language == "en" else found.departments[code].name_zh)
        if code in found.departments
        else code
        for code in permit.departments
    ]
    return {
        "activity_name": activity_name,
        "hours": hours_lines(language, permit.hours, zone),
        "departments": departments,
        "icon": ICONS[permit.status],
    }


class VerifyPage(Controller):
    path = VERIFY_PATH
    include_in_schema = False

    @get("/sw.js", media_type="text/javascript")
    async def service_worker(self) -> Response[bytes]:
        # no-cache: the browser checks for a new worker on each visit (it would anyway after a day).
        return Response(
            _WORKER.read_bytes(),
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": f"{VERIFY_PATH}/"},
        )

    @get("/shell", opt=_LANG_OPT)
    async def shell(self, request: Request[Any, Any, Any]) -> Template:
        """The page without a permit: the worker answers an offline visit with it, and verify.js fills it in."""
        language = i18n.language_of(request)
        context = page_context(request, permit=None, data=_script_data(request, language, None))
        # Fetched by the worker for each language: it must not change the visitor's remembered language.
        response = Template(template_name="verify.html", context=context)
        response.headers["Content-Security-Policy"] = content_security_policy(settings_of(request))
        response.headers["Content-Language"] = language
        return response

    @get("/{number:str}", opt=_LANG_OPT)
    async def verify(self, request: Request[Any, Any, Any], number: FromPath[str], session: DbSession) -> Template:
        language = i18n.language_of(request)
        settings = settings_of(request)
        try:
            found, components = await issuance.get_permit(session, number)
        except PermitNotFound:
            page = not_found_page(request, i18n.translate(language, "permit_not_found"))
            page.headers["Content-Language"] = language
            return page
        permit = permit_out(found, components, today=settings.today(), public_url=settings.http.public_url)
        context = page_context(
            request,
            permit=permit,
            facts=_facts(language, permit, ZoneInfo(settings.timezone)),
            data=_script_data(request, language, permit.number),
        )
        response = render(request, "verify.html", context)
        response.headers["Content-Language"] = language
        return response
