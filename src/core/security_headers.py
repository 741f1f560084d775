"""Security headers on every response, API and pages alike (OWASP Secure Headers; ASVS 3.4).

A before-send hook, like `core.http_guard.no_store_by_default`, so problems, unrouted 404s, idempotent replays
and static files get them too. A header a response sets itself wins (the console's pages set their own
Content-Security-Policy and Referrer-Policy).

- Every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`
  (nothing of the service is meant to be framed: the console previews documents from blob: URLs), and
  `Strict-Transport-Security` when the service is reached over https (FLEXREG_PUBLIC_URL).
- Data (JSON and every +json type, text, empty bodies): `Content-Security-Policy: default-src 'none'; frame-ancestors
  'none'` (an API answer opened as a document runs nothing) and `Cross-Origin-Resource-Policy: same-origin`
  (no other site may embed it; CORS requests, which a configured console origin makes, are not affected).
- HTML: `Cross-Origin-Opener-Policy: same-origin`, and the app's policy for pages that set none (the API docs).

Other media (PDF, images, scripts, styles) get no CSP: a service worker's CSP is its script's response header,
and the verification page's worker must fetch.
"""

from __future__ import annotations

from typing import Any

from litestar.types import Message, Scope

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_DATA = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
# A year, as browsers' preload lists ask; no includeSubDomains: the city's other hosts are not ours to decide.
_HSTS = (b"strict-transport-security", b"max-age=31536000")
_DATA_TYPES = (b"application/json", b"application/problem+json", b"text/plain")


def make_security_headers(html_policy: str) -> Any:
    """The before-send hook; `html_policy` is the Content-Security-Policy of HTML that sets none."""
    html = (
        (b"content-security-policy", html_policy.encode()),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    async def security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        media_type = b""
        for name, value in headers:
            if name.lower() == b"content-type":
                media_type = value.split(b";", 1)[0].strip().lower()
        wanted: list[tuple[bytes, bytes]] = [*_ALWAYS]
        if not media_type or media_type in _DATA_TYPES or media_type.endswith(b"+json"):
            wanted += _DATA
        elif media_type == b"text/html":
            wanted += html
        # Read per response: the settings are the app state's (a test hands each its own).
        if scope["app"].state.settings.http.public_url.startswith("https://"):
            wanted.append(_HSTS)
        headers += [(name, value) for name, value in wanted if name not in present]
        message["headers"] = headers

    return security_headers
