"""/console/rounds and /console/rounds/{id}: a street office's allocation rounds, opened, watched and drawn.

Read server-side with the venues service's own functions (the public round list and round, the public results,
the office's allocations, the jurisdiction's venues and pitches); the round is opened and drawn from the page's
script through POST /api/v1/allocation-rounds and POST …/draw, so the API's rules, scopes and access log apply.
The results page checks the seed against its commitment in the browser (crypto.subtle), and names the command
anyone can run to recompute the whole draw (`flexreg verify-draw`, docs/draw.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from core.deps import DbSession
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
from registry import jurisdictions
from registry.policies import KEY_GROUPS
from venues import allocations, pitches, round_results, rounds, venues
from venues.errors import RoundNotDrawn, RoundNotFound

_PAGE_SIZE: Final = 50
_READ_PAGE: Final = 200
# Reading every allocation of the office to find one round's: enough pages for any street office's year.
_MAX_ALLOCATION_PAGES: Final = 50
_MAX_VENUE_PAGES: Final = 20


@dataclass(frozen=True, slots=True)
class PitchChoice:
    id: uuid.UUID
    label: str
    open: bool


@dataclass(frozen=True, slots=True)
class VenuePitches:
    venue_id: uuid.UUID
    name: str
    open: bool
    pitches: list[PitchChoice]


@dataclass(frozen=True, slots=True)
class Holding:
    """One allocation of the round, as staff see it: who holds what, and who is next if it is given up."""

    allocation: allocations.AllocationView
    pitch_label: str
    applicant_ref: str | None
    next_in_line: str | None


async def _venue_pitches(session: AsyncSession, jurisdiction_code: str, now: dt.datetime) -> list[VenuePitches]:
    """The jurisdiction's venues and their pitches (public reference data), each marked open or not at `now`."""
    found: list[VenuePitches] = []
    cursor: str | None = None
    for _ in range(_MAX_VENUE_PAGES):
        page = await venues.list_venues(session, limit=_READ_PAGE, cursor=cursor, jurisdiction_code=jurisdiction_code)
        for venue in page.items:
            venue_open = venues.current_status(venue.status, venue.status_from, venue.status_until, now) == "open"
            choices: list[PitchChoice] = []
            pitch_cursor: str | None = None
            while True:
                pitch_page = await pitches.list_pitches(session, venue.id, limit=_READ_PAGE, cursor=pitch_cursor)
                choices += [
                    PitchChoice(
                        id=pitch.id,
                        label=pitch.label,
                        open=venues.current_status(pitch.status, pitch.status_from, pitch.status_until, now) == "open",
                    )
                    for pitch in pitch_page.items
                ]
                pitch_cursor = pitch_page.next_cursor
                if pitch_cursor is None:
                    break
            if choices:
                found.append(VenuePitches(venue_id=venue.id, name=venue.name, open=venue_open, pitches=choices))
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


async def _round_allocations(session: AsyncSession, staff: Staff, round_id: uuid.UUID) -> list[Any]:
    """The round's allocations, from the office's own list (GET /allocations has no round filter)."""
    found: list[allocations.AllocationView] = []
    cursor: str | None = None
    for _ in range(_MAX_ALLOCATION_PAGES):
        page = await allocations.list_allocations(session, staff.principal, limit=_READ_PAGE, cursor=cursor)
        found += [view for view in page.items if view.round_id == round_id]
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def _holdings(
    result: Any, held: list[allocations.AllocationView], labels: dict[str, str]
) -> tuple[list[Holding], list[str]]:
    """Who holds each pitch, and the first on the waiting list who chose it and has had nothing in this round:
    the one a release would pass it to (if they hold no pitch elsewhere for an overlapping term by then)."""
    drawn_to = {assignment.pitch_id: assignment.applicant_ref for assignment in result.assignments}
    choices = {entry.applicant_ref: entry.choices for entry in result.order}
    # The draw's holders are known by ref. An allocation passed down the waiting list does not name its ref
    # (AllocationOut has none): replay the passes in order, each to the first waiting applicant who chose the
    # pitch and has had nothing yet, as the service does (it also skips one holding a pitch elsewhere by then).
    served: set[str] = set(drawn_to.values())
    for view in sorted(held, key=lambda view: view.created_at):
        if view.source == "waiting_list":
            pitch_id = str(view.pitch.pitch_id)
            ref = next((r for r in result.waiting_list if r not in served and pitch_id in choices.get(r, [])), None)
            if ref is not None:
                served.add(ref)
    rows: list[Holding] = []
    for view in held:
        pitch_id = str(view.pitch.pitch_id)
        ref = drawn_to.get(pitch_id) if view.source == "draw" else None
        following = None
        if view.status == "held":
            following = next(
                (r for r in result.waiting_list if r not in served and pitch_id in choices.get(r, [])), None
            )
        rows.append(
            Holding(
                allocation=view,
                pitch_label=labels.get(pitch_id, view.pitch.label),
                applicant_ref=ref,
                next_in_line=following,
            )
        )
    return rows, [ref for ref in result.waiting_list if ref not in served]


def _offset(zone: ZoneInfo, now: dt.datetime) -> str:
    """The city's UTC offset now, as RFC 3339 writes it (+08:00), for the form's local date-times."""
    offset = now.astimezone(zone).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class RoundPages(Controller):
    path = CONSOLE_PATH
    include_in_schema = False

    @get("/rounds", opt={QUERY_OPT: ("lang", "cursor", "jurisdiction_code")})
    async def rounds_page(self, request: Request[Any, Any, Any], session: DbSession) -> Template | Redirect:
        staff = await staff_in_role(request, session, "street_office", "admin")
        if not isinstance(staff, Staff):
            return staff
        settings = settings_of(request)
        now = settings.now()
        zone = ZoneInfo(settings.timezone)
        jurisdiction = staff.principal.jurisdiction_code
        choosable: list[Any] = []
        if staff.principal.role == "admin":
            asked = request.query_params.get("jurisdiction_code") or None
            listed = await jurisdictions.list_jurisdictions(session, limit=_READ_PAGE)
            choosable = [row for row in listed.items if jurisdictions.is_street_level(row.code)]
            jurisdiction = asked if asked in {row.code for row in choosable} else None
        page = await rounds.list_rounds(
            session,
            now=now,
            limit=_PAGE_SIZE,
            cursor=request.query_params.get("cursor"),
            jurisdiction_code=jurisdiction,
        )
        places = await _venue_pitches(session, jurisdiction, now) if jurisdiction else []
        language = i18n.language_of(request)
        context = page_context(
            request,
            staff,
            page="rounds",
            rounds=[(view, view.applications_close_at.astimezone(zone)) for view in page.items],
            next_cursor=page.next_cursor,
            jurisdiction=jurisdiction,
            choosable=choosable,
            places=places,
            key_groups=list(KEY_GROUPS),
            offset=_offset(zone, now),
            today=settings.today(),
            messages=i18n.catalogue(language, "rounds_"),
        )
        return render(request, "rounds.html", context)

    @get("/rounds/{round_id:uuid}", opt={QUERY_OPT: ("lang",)})
    async def round_page(
        self, request: Request[Any, Any, Any], round_id: FromPath[uuid.UUID], session: DbSession
    ) -> Template | Redirect:
        staff = await staff_in_role(request, session, "street_office", "admin")
        if not isinstance(staff, Staff):
            return staff
        settings = settings_of(request)
        now = settings.now()
        zone = ZoneInfo(settings.timezone)
        try:
            view = await rounds.get_round(session, round_id, now=now)
        except RoundNotFound:
            return not_found_page(request)
        if staff.principal.role == "street_office" and view.jurisdiction_code != staff.principal.jurisdiction_code:
            return not_found_page(request)  # another office's round: as the draw answers it, not found
        places = await _venue_pitches(session, view.jurisdiction_code, now)
        labels = {str(pitch.id): f"{place.name} · {pitch.label}" for place in places for pitch in place.pitches}
        result = None
        holdings: list[Holding] = []
        waiting: list[str] = []
        if view.status == "drawn":
            try:
                result = await round_results.get_results(session, round_id)
            except RoundNotDrawn:
                result = None
            if result is not None:
                held = await _round_allocations(session, staff, round_id)
                holdings, waiting = _holdings(result, held, labels)
        results_path = f"/api/v1/allocation-rounds/{round_id}/results"
        language = i18n.language_of(request)
        context = page_context(
            request,
            staff,
            page="rounds",
            round=view,
            closes_at=view.applications_close_at.astimezone(zone),
            drawn_at=view.drawn_at.astimezone(zone) if view.drawn_at else None,
            beacon_after=view.beacon.available_after.astimezone(zone) if view.beacon else None,
            round_pitches=[labels.get(str(pitch_id), str(pitch_id)) for pitch_id in view.pitch_ids or []],
            labels=labels,
            result=result,
            positions={entry.applicant_ref: n for n, entry in enumerate(result.order, start=1)} if result else {},
            holdings=holdings,
            still_waiting=waiting,
            results_path=results_path,
            verify_command=f"flexreg verify-draw {settings.http.public_url.rstrip('/')}{results_path}",
            messages=i18n.catalogue(language, "rounds_"),
        )
        return render(request, "round.html", context)
