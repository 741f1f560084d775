"""/console/queue and /console/tasks/{id}: a department's review queue and one task with its application.

Read server-side with the permits service's own scoped queries (the API's order, the API's 404s); every
decision goes through POST /api/v1/tasks/{id}/decision from the page's script, with the ETag the page was
rendered with in If-Match, so a reviewer who acted on a stale page is told someone else decided first.
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
from permits import applications, history, tasks, workdays
from permits.api.applications import application_out
from permits.api.tasks import TaskOut, task_out
from permits.calendars import calendar_of
from permits.errors import ApplicationNotFound, TaskNotFound
from permits.models import OPEN_TASK_STATUSES, TASK_STATUSES
from registry import catalogue, documents
from registry.api.documents import readers_for
from registry.errors import DocumentNotFound

_PAGE_SIZE = 50
_HISTORY_SIZE = 200
_API = "/api/v1"


@dataclass(frozen=True, slots=True)
class QueueRow:
    task: TaskOut
    working_days_left: int  # negative: working days overdue
    near_limit: bool
    overdue: bool
    permit_name: str


@dataclass(frozen=True, slots=True)
class Material:
    """One of the application's documents as the page previews it: an image, a PDF, or one the caller cannot read."""

    number: int
    document_id: uuid.UUID
    kind: str  # "image", "pdf" or "missing"
    url: str  # inline preview and download: the API's content endpoint, with the purpose it logs


async def _materials(
    request: Request[Any, Any, Any], session: DbSession, staff: Staff, task_id: uuid.UUID, document_ids: list[uuid.UUID]
) -> list[Material]:
    """The application's documents with their kind, read in the documents API's own scope (the reviewing
    departments' included); the bytes are the preview's own request to the API, which logs the read."""
    purpose = quote(f"permit_review: task {task_id}")
    shown = []
    for number, document_id in enumerate(document_ids, start=1):
        url = f"{_API}/documents/{document_id}/content?purpose={purpose}"
        try:
            document = await documents.get_document_in_scope(
                session, staff.principal, document_id, readers=readers_for(request)
            )
        except DocumentNotFound:
            shown.append(Material(number=number, document_id=document_id, kind="missing", url=url))
            continue
        kind = "pdf" if document.media_type == "application/pdf" else "image"
        shown.append(Material(number=number, document_id=document_id, kind=kind, url=url))
    return shown


def _days_left(calendar: workdays.WorkCalendar, today: dt.date, due_on: dt.date) -> int:
    if due_on >= today:
        return workdays.workdays_between(calendar, today, due_on)
    return -workdays.workdays_between(calendar, due_on, today)


def _permit_names(language: i18n.Language) -> dict[str, str]:
    names: dict[str, str] = {}
    for permit_type in catalogue.load_catalogue().permit_types.values():
        names[permit_type.code] = permit_type.name_en if language == "en" else permit_type.name_zh
    return names


class QueuePages(Controller):
    path = CONSOLE_PATH
    include_in_schema = False

    @get("/queue", opt={QUERY_OPT: ("lang", "status", "cursor")})
    async def queue(self, request: Request[Any, Any, Any], session: DbSession) -> Template | Redirect:
        staff = await staff_in_role(request, session, "department", "admin")
        if not isinstance(staff, Staff):
            return staff
        settings = settings_of(request)
        asked = request.query_params.get("status") or "open"
        if asked != "open" and asked not in TASK_STATUSES:
            raise InvalidParameter.for_field("status", f"must be open or one of {', '.join(TASK_STATUSES)}")
        statuses = list(OPEN_TASK_STATUSES) if asked == "open" else [asked]
        today = settings.today()
        calendar = await calendar_of(request.app.state, session)
        page = await tasks.list_tasks(
            session,
            staff.principal,
            today=today,
            calendar=calendar,
            statuses=statuses,
            limit=_PAGE_SIZE,
            cursor=request.query_params.get("cursor"),
        )
        near = tasks.near_limit_day(calendar, today)
        city = ZoneInfo(settings.timezone)
        names = _permit_names(i18n.language_of(request))
        rows = [
            QueueRow(
                task=task_out(record, city),
                working_days_left=_days_left(calendar, today, record.due_on),
                near_limit=record.statutory_due_on <= near,
                overdue=record.due_on < today and record.status in OPEN_TASK_STATUSES,
                permit_name=names.get(record.permit_type, record.permit_type),
            )
            for record in page.items
        ]
        context = page_context(
            request,
            staff,
            page="queue",
            rows=rows,
            status=asked,
            statuses=["open", *TASK_STATUSES],
            next_cursor=page.next_cursor,
            today=today,
        )
        return render(request, "queue.html", context)

    @get("/tasks/{task_id:uuid}", opt={QUERY_OPT: ("lang",)})
    async def task(
        self, request: Request[Any, Any, Any], task_id: FromPath[uuid.UUID], session: DbSession
    ) -> Template | Redirect:
        staff = await staff_in_role(request, session, "department", "admin")
        if not isinstance(staff, Staff):
            return staff
        settings = settings_of(request)
        try:
            record = await tasks.get_task(session, staff.principal, task_id)
            application = await applications.get_application(session, staff.principal, record.application_id)
        except (TaskNotFound, ApplicationNotFound):
            return not_found_page(request)
        city = ZoneInfo(settings.timezone)
        calendar = await calendar_of(request.app.state, session)
        entries = await history.application_history(session, application.id, limit=_HISTORY_SIZE, cursor=None)
        language = i18n.language_of(request)
        activity = catalogue.load_catalogue().find_activity(application.activity_code)
        context = page_context(
            request,
            staff,
            page="queue",
            task=task_out(record, city),
            etag=etag(record.version)["ETag"],
            application=application_out(application, city),
            materials=await _materials(request, session, staff, record.id, list(application.document_ids)),
            periods=[(period.start.astimezone(city), period.end.astimezone(city)) for period in application.periods],
            activity_name=(activity.name_en if language == "en" else activity.name_zh) if activity else None,
            permit_name=_permit_names(language).get(record.permit_type, record.permit_type),
            working_days_left=_days_left(calendar, settings.today(), record.due_on),
            history=[(entry, entry.at.astimezone(city)) for entry in entries.items],
            # The API lets only the task's department decide (admins read): no form it would refuse.
            decidable=record.status == "in_review" and staff.principal.role == "department",
            messages=i18n.catalogue(language, ("decision_", "task_status_")),
        )
        return render(request, "task.html", context)
