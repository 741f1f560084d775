"""/console: the staff's pages. Signed out, a server-rendered sign-in form; signed in, the pages for the role.

The pages are server-rendered; what they show and change goes through the API itself (their scripts call
/api/v1 with the session cookie, core.browser_session), so the console has the API's rules, scopes, If-Match
and access logging, never a second copy of them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from core import browser_session
from core.auth import Principal, Role, decode_token, issue_token
from core.client_address import client_address
from core.deps import DbSession
from core.errors import CsrfRefused, NotAuthenticated
from core.http_guard import QUERY_OPT
from core.settings import Settings
from flexreg.console import i18n
from flexreg.console.i18n import Language
from registry import accounts, sessions
from registry.errors import InvalidCredentials, TooManyLoginAttempts
from registry.models import Account

CONSOLE_PATH = "/console"
STATIC_PATH = f"{CONSOLE_PATH}/static"
LEAFLET_PATH = f"{CONSOLE_PATH}/vendor/leaflet"
_LOGIN_COOKIE = "flexreg_sign_in"
_LANG_OPT = {QUERY_OPT: ("lang",)}
_MAX_FORM_BYTES = 4096


def settings_of(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in staff member a page is for."""

    principal: Principal
    username: str
    token: str


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https" or settings_of(request).http.public_url.startswith("https://")


def page_context(request: Request[Any, Any, Any], staff: Staff | None = None, **extra: Any) -> dict[str, Any]:
    """What every console template is rendered with: language, translator, addresses, the session's CSRF token."""
    language = i18n.language_of(request)
    secret = settings_of(request).auth.secret_key
    # The other language's link keeps the page's own query (filters, page, jurisdiction).
    query = [(key, value) for key, value in request.query_params.items() if key != "lang"]
    other = "en" if language == "zh" else "zh"
    return {
        "lang": language,
        "switch_url": "?" + urlencode([*query, ("lang", other)]),
        "t": lambda key, **values: i18n.translate(language, key, **values),
        "static": STATIC_PATH,
        "leaflet": LEAFLET_PATH,
        "home": CONSOLE_PATH,
        "csrf": browser_session.csrf_token(secret, staff.token) if staff else None,
        "principal": staff.principal if staff else None,
        "username": staff.username if staff else None,
        "title_key": None,
        **extra,
    }


def _tile_source(tile_url: str) -> str:
    """The CSP source of a tile template: its host, a `{s}` subdomain as a wildcard label (CSP allows one only
    leftmost, so `webrd0{s}.example.cn` becomes `*.example.cn`)."""
    parts = urlsplit(tile_url)
    labels = parts.netloc.split(".")
    if any("{s}" in label for label in labels[1:]):
        return f"{parts.scheme}:"  # no CSP source names such a host: the scheme, as narrow as CSP can say
    if "{s}" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


def content_security_policy(settings: Settings) -> str:
    """Scripts, styles, fonts and frames from the app alone; images also from the configured tile server.

    Leaflet positions its layers with inline style attributes, hence 'unsafe-inline' for styles only.
    """
    images = "'self' data: blob:"
    if settings.http.tile_url:
        images += f" {_tile_source(settings.http.tile_url)}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src {images}; "
        "connect-src 'self'; frame-src 'self' blob:; object-src 'self' blob:; worker-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def render(
    request: Request[Any, Any, Any], template: str, context: dict[str, Any], *, status_code: int = 200
) -> Template:
    response = Template(template_name=template, context=context, status_code=status_code)
    response.headers["Content-Security-Policy"] = content_security_policy(settings_of(request))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        response.cookies.append(_language_cookie(asked, secure=_secure(request)))
    return response


def _language_cookie(language: Language, *, secure: bool) -> Cookie:
    return Cookie(
        key=i18n.COOKIE, value=language, path="/", max_age=365 * 86400, samesite="lax", secure=secure, httponly=True
    )


async def signed_in_staff(request: Request[Any, Any, Any], session: DbSession) -> Staff | None:
    """The staff member the session cookie names, or None (no cookie, expired, deactivated, or a vendor's)."""
    token = browser_session.session_token(request)
    if token is None:
        return None
    try:
        principal = decode_token(settings_of(request).auth, token)
    except NotAuthenticated:
        return None
    if principal.role == "vendor" or not await sessions.is_live(session, principal):
        return None
    account = await session.get(Account, principal.account_id)
    if account is None:
        return None
    return Staff(principal=principal, username=account.username, token=token)


async def staff_in_role(
    request: Request[Any, Any, Any], session: DbSession, *roles: Role
) -> Staff | Redirect | Template:
    """The signed-in staff member if their role has a part in the page; else the sign-in (signed out) or the
    403 page (another role), which the handler returns as it is."""
    staff = await signed_in_staff(request, session)
    if staff is None:
        return Redirect(CONSOLE_PATH)
    if staff.principal.role not in roles:
        return forbidden_page(request)
    return staff


def _form_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"sign-in\0" + nonce.encode(), hashlib.sha256).hexdigest()


def _sign_in_page(
    request: Request[Any, Any, Any], *, message: str | None = None, username: str | None = None, status_code: int = 200
) -> Template:
    """The form, with a fresh sign-in nonce in a cookie and its HMAC in the form (signed double submit)."""
    nonce = secrets.token_urlsafe(24)
    context = page_context(
        request,
        message=message,
        username=username,
        form_token=_form_token(settings_of(request).auth.secret_key, nonce),
    )
    response = render(request, "sign_in.html", context, status_code=status_code)
    response.cookies.append(
        Cookie(
            key=_LOGIN_COOKIE,
            value=nonce,
            path=CONSOLE_PATH,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    )
    return response


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A small urlencoded form as text fields; anything else is an empty form (and so refused by the caller)."""
    if (request.headers.get("content-type") or "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return {}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


class ConsolePages(Controller):
    path = CONSOLE_PATH
    include_in_schema = False

    @get("/", opt=_LANG_OPT)
    async def home(self, request: Request[Any, Any, Any], session: DbSession) -> Template:
        staff = await signed_in_staff(request, session)
        if staff is None:
            expired = browser_session.session_token(request) is not None
            message = i18n.translate(i18n.language_of(request), "session_expired") if expired else None
            return _sign_in_page(request, message=message)
        return render(request, "home.html", page_context(request, staff, page="home"))

    @post("/sign-in", status_code=HTTP_303_SEE_OTHER)
    async def sign_in(self, request: Request[Any, Any, Any], session: DbSession) -> Response[Any]:
        settings = settings_of(request)
        language = i18n.language_of(request)
        form = await _form(request)
        nonce = request.cookies.get(_LOGIN_COOKIE, "")
        try:
            browser_session.check_same_origin(request)
        except CsrfRefused:
            return _sign_in_page(request, message=i18n.translate(language, "form_expired"), status_code=403)
        sent = form.get(browser_session.CSRF_FIELD, "")
        if not nonce or not hmac.compare_digest(sent, _form_token(settings.auth.secret_key, nonce)):
            return _sign_in_page(request, message=i18n.translate(language, "form_expired"), status_code=403)
        username, password = form.get("username", "")[:64], form.get("password", "")[:128]
        try:
            outcome = await accounts.sign_in(
                session,
                settings.auth,
                attempts=request.app.state.sessionmaker,
                username=username,
                password=password,
                client=client_address(request.scope, settings.http.trusted_proxies),
                now=settings.now(),
            )
        except TooManyLoginAttempts as refusal:
            minutes = math.ceil(int(refusal.headers.get("Retry-After", "60")) / 60)
            page = _sign_in_page(
                request,
                message=i18n.translate(language, "too_many_attempts", minutes=minutes),
                username=username,
                status_code=429,
            )
            page.headers.update(refusal.headers)
            return page
        if isinstance(outcome, InvalidCredentials):
            # Answered, not raised: the failure it counted commits with this request's transaction.
            message = i18n.translate(language, "bad_credentials")
            return _sign_in_page(request, message=message, username=username, status_code=401)
        if outcome.role == "vendor":
            return _sign_in_page(request, message=i18n.translate(language, "vendors_use_app"), status_code=403)
        # The console's token lives a working day (no refresh in a cookie), and is revocable like any other:
        # it names its sign-in, which signing out or deactivation ends.
        principal = await sessions.open_session(session, outcome, kind="console", now=settings.now())
        auth = msgspec.structs.replace(settings.auth, token_ttl_seconds=settings.auth.session_ttl_seconds)
        response: Response[Any] = Redirect(CONSOLE_PATH, status_code=HTTP_303_SEE_OTHER)
        response.cookies.append(
            Cookie(
                key=browser_session.COOKIE,
                value=issue_token(auth, principal),
                path="/",
                max_age=auth.token_ttl_seconds,
                httponly=True,
                samesite="strict",
                secure=_secure(request),
            )
        )
        response.cookies.append(Cookie(key=_LOGIN_COOKIE, value="", path=CONSOLE_PATH, expires=0, max_age=0))
        return response

    @post("/sign-out", status_code=HTTP_303_SEE_OTHER)
    async def sign_out(self, request: Request[Any, Any, Any], session: DbSession) -> Response[Any]:
        settings = settings_of(request)
        token = browser_session.session_token(request)
        if token is not None:
            form = await _form(request)
            try:
                browser_session.check_csrf(
                    request, settings.auth.secret_key, token, form.get(browser_session.CSRF_FIELD)
                )
            except CsrfRefused:
                return Redirect(CONSOLE_PATH, status_code=HTTP_303_SEE_OTHER)
            # The sign-in ends in the database, not only in this browser: a copy of the cookie dies with it.
            try:
                principal = decode_token(settings.auth, token)
            except NotAuthenticated:
                principal = None
            if principal is not None and principal.session_id is not None:
                await sessions.sign_out(session, principal, now=settings.now(), everywhere=False)
        response: Response[Any] = Redirect(CONSOLE_PATH, status_code=HTTP_303_SEE_OTHER)
        response.cookies.append(
            Cookie(
                key=browser_session.COOKIE, value="", path="/", expires=0, max_age=0, httponly=True, samesite="strict"
            )
        )
        return response


def not_found_page(request: Request[Any, Any, Any], message: str | None = None) -> Template:
    return render(request, "not_found.html", page_context(request, message=message), status_code=404)


def forbidden_page(request: Request[Any, Any, Any]) -> Template:
    """A page the signed-in role has no part in: 403, as the API answers a wrong role (404 stays for records
    outside the caller's jurisdiction or department)."""
    context = page_context(
        request, title_key="forbidden_title", message=i18n.translate(i18n.language_of(request), "forbidden")
    )
    return render(request, "not_found.html", context, status_code=403)
