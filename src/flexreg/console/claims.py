"""/console/claims and /console/claims/{id}: a street office's key-group verification queue and one claim.

Read server-side with the registry's own scoped services, the ones behind GET /api/v1/key-group-claims and
GET /api/v1/key-group-claims/{id}: the same scope, the same order, the same 404s, and the same personal-data
access log rows (the page shows what the API shows staff, so it logs what the API logs). A street office may
reveal the vendor's full ID number from the page, through POST /api/v1/vendors/{id}/id-number-reveals with a
stated purpose (prefilled with the claim under review), which logs it. The evidence is
previewed inline from GET /api/v1/documents/{id}/content, which logs each read itself; every decision goes
through POST /api/v1/key-group-claims/{id}/decision from the page's script, with the ETag the page was
rendered with in If-Match.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.conditional import etag
from core.deps import DbSession
from core.errors import InvalidParameter
from core.http_guard import QUERY_OPT
from flexreg.console import i18n
from flexreg.console.pages import (
    CONSOLE_PATH,
    Staff,
    not_found_page,
    page_context,
    render,
    settings_of,
    staff_in_role,
)
from registry import claims, documents
from registry import entitlements as rules
from registry.claims import ClaimRecord
from registry.errors import ClaimNotFound, DocumentNotFound
from registry.models import CLAIM_STATUSES
from registry.policies import default_verification_months, registration_rules

_PAGE_SIZE = 50
_API = "/api/v1"
STATUS_FILTERS = ("pending", *(status for status in CLAIM_STATUSES if status != "pending"), "all")


@dataclass(frozen=True, slots=True)
class QueueRow:
    claim: ClaimRecord
    submitted_at: dt.datetime  # in the city's time zone


@dataclass(frozen=True, slots=True)
class Evidence:
    """One evidence document as the page previews it: an image, a PDF, or one the caller cannot read."""

    number: int
    document_id: uuid.UUID
    kind: str  # "image", "pdf" or "missing"
    url: str  # inline preview and download: the API's content endpoint, with the purpose it logs


def _purpose(claim_id: uuid.UUID) -> str:
    """What the access log says a console read was for: the claim under review."""
    return f"review key-group claim {claim_id}"


async def _evidence(session: DbSession, staff: Staff, record: ClaimRecord) -> list[Evidence]:
    purpose = quote(_purpose(record.id))
    shown = []
    for number, document_id in enumerate(record.evidence_document_ids, start=1):
        url = f"{_API}/documents/{document_id}/content?purpose={purpose}"
        try:
            # The metadata only (its type): a read of the content is the preview's own request, logged there.
            document = await documents.get_document_in_scope(session, staff.principal, document_id)
        except DocumentNotFound:
            shown.append(Evidence(number=number, document_id=document_id, kind="missing", url=url))
            continue
        kind = "pdf" if document.media_type == "application/pdf" else "image"
        shown.append(Evidence(number=number, document_id=document_id, kind=kind, url=url))
    return shown


def _details(record: ClaimRecord) -> list[tuple[str, str, bool]]:
    """The claim's details as (field, value, is_category) in the order of its group's shape."""
    shape = rules.DETAILS_TYPES.get(record.key_group)
    order = list(shape.__struct_fields__) if shape is not None else []
    names = [name for name in order if name in record.details] + sorted(set(record.details) - set(order))
    return [(name, str(record.details[name]), name == "category") for name in names]


class ClaimPages(Controller):
    path = CONSOLE_PATH
    include_in_schema = False

    @get("/claims", opt={QUERY_OPT: ("lang", "status", "cursor")})
    async def claims_queue(self, request: Request[Any, Any, Any], session: DbSession) -> Template | Redirect:
        staff = await staff_in_role(request, session, "street_office", "admin")
        if not isinstance(staff, Staff):
            return staff
        asked = request.query_params.get("status") or "pending"
        if asked not in STATUS_FILTERS:
            raise InvalidParameter.for_field("status", f"must be one of {', '.join(STATUS_FILTERS)}")
        page = await claims.list_claims(
            session,
            staff.principal,
            limit=_PAGE_SIZE,
            cursor=request.query_params.get("cursor"),
            status=None if asked == "all" else asked,  # type: ignore[arg-type]
            request_path=request.url.path,
        )
        city = ZoneInfo(settings_of(request).timezone)
        rows = [QueueRow(claim=record, submitted_at=record.submitted_at.astimezone(city)) for record in page.items]
        context = page_context(
            request,
            staff,
            page="claims",
            rows=rows,
            status=asked,
            statuses=STATUS_FILTERS,
            next_cursor=page.next_cursor,
        )
        return render(request, "claims.html", context)

    @get("/claims/{claim_id:uuid}", opt={QUERY_OPT: ("lang",)})
    async def claim(
        self, request: Request[Any, Any, Any], claim_id: FromPath[uuid.UUID], session: DbSession
    ) -> Template | Redirect:
        staff = await staff_in_role(request, session, "street_office", "admin")
        if not isinstance(staff, Staff):
            return staff
        try:
            record = await claims.get_claim(
                session, staff.principal, claim_id, request_path=request.url.path, purpose=_purpose(claim_id)
            )
        except ClaimNotFound:
            return not_found_page(request)
        settings = settings_of(request)
        city = ZoneInfo(settings.timezone)
        today = settings.today()
        months = default_verification_months(record.key_group)
        longest = registration_rules().max_verification_years
        language = i18n.language_of(request)
        messages = {
            **i18n.catalogue(language, "claim_js_"),
            **{
                f"claim_status_{status}": i18n.translate(language, f"claim_status_{status}")
                for status in CLAIM_STATUSES
            },
        }
        context = page_context(
            request,
            staff,
            page="claims",
            claim=record,
            group_name=i18n.translate(language, f"claim_group_{record.key_group}"),
            etag=etag(record.version)["ETag"],
            submitted_at=record.submitted_at.astimezone(city),
            decided_at=record.decided_at.astimezone(city) if record.decided_at else None,
            details=_details(record),
            evidence=await _evidence(session, staff, record),
            decidable=record.status == "pending" and staff.principal.role == "street_office",
            # Only a street office may reveal (the API refuses admins: separation of duties).
            revealable=staff.principal.role == "street_office",
            reveal_purpose=_purpose(claim_id),
            today=today,
            default_months=months,
            default_until=rules.add_months(today, months),
            latest_until=rules.add_months(today, 12 * longest),
            longest_years=longest,
            messages=messages,
        )
        return render(request, "claim.html", context)
