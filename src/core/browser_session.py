"""The console's session: the same signed bearer token, carried in a cookie a script cannot read.

Staff sign in on the console's own form (flexreg.console); the cookie then authenticates the pages and the API
calls their scripts make, with the same roles and scopes as a bearer token. Because a browser sends a cookie by
itself, every unsafe request it authenticates must also prove it came from the console (OWASP's CSRF cheat
sheet, "signed double-submit" and "verifying origin"): a same-origin `Sec-Fetch-Site` or `Origin`, and an
`X-CSRF-Token` header (or a form's `csrf` field) holding an HMAC of the session's token that only pages served
to that session know. The cookie is also `SameSite=Strict`, and JSON-only bodies (RELIABILITY.md §4 #10)
keep plain form posts out of the API.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection

from core.errors import CsrfRefused

COOKIE = "flexreg_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(secret_key: bytes, session_token: str) -> str:
    """The token a page of this session sends back with each change; bound to the session, not stored."""
    return hmac.new(secret_key, b"csrf\0" + session_token.encode(), hashlib.sha256).hexdigest()


def session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    token = connection.cookies.get(COOKIE)
    return token or None


def _own_origins(connection: ASGIConnection[Any, Any, Any, Any]) -> set[str]:
    """The request's own origin, and the public one (behind a TLS-terminating proxy the request says http)."""
    host = connection.headers.get("host", "")
    public = urlsplit(connection.app.state.settings.http.public_url)
    return {f"{connection.url.scheme}://{host}".lower(), f"{public.scheme}://{public.netloc}".lower()}


def check_same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """403 for a request a browser says came from another site (Fetch Metadata, else the Origin header)."""
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CsrfRefused("A change from another site is not accepted with the console's session")
        return
    origin = connection.headers.get("origin")
    if origin is not None and origin != "null":
        parts = urlsplit(origin.lower())
        if f"{parts.scheme}://{parts.netloc}" not in _own_origins(connection):
            raise CsrfRefused("A change from another site is not accepted with the console's session")
    elif origin == "null":
        raise CsrfRefused("A change from an opaque origin is not accepted with the console's session")


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any], secret_key: bytes, token: str, sent: str | None) -> None:
    """Refuse an unsafe request the session's cookie authenticates unless it proves it came from the console."""
    check_same_origin(connection)
    if not sent or not hmac.compare_digest(sent, csrf_token(secret_key, token)):
        raise CsrfRefused(
            "A change made with the console's session needs its X-CSRF-Token; reload the page and try again"
        )
