"""The licensing clocks as 行政许可法 counts them (Art. 32, 42, 45, 82; DOMAIN.md §4.2, §5). Pure: no I/O, no clock.

Every function takes the calendar and "today" from its caller, so a task row's due date is a function of what
the row records (receipt, notice, acceptance, extension, pauses, supplements) and of the calendar's data; when a
year's schedule is loaded the same call gives the final date.

- Receipt starts the completeness stage: the one notice of what is missing is due within 5 working days; a
  department silent until then, or whose notice comes later, has accepted the application on the day it was
  received (Art. 32(4)).
- The decision is due within 20 working days of acceptance (Art. 42 ¶1; a law or regulation may set another
  limit), +10 only with the agency head's recorded approval whose reason is sent to the applicant; a joint
  application as a whole within 45, +15 (Art. 42 ¶2, Art. 26).
- A promised limit (承诺时限, 优化营商环境条例 Art. 36) is shorter, per permit type, in working or calendar days.
- Only the Art. 45 steps (hearing, testing, inspection, expert review), each notified in writing, stop the clock;
  a supplement after acceptance stops it only where a cited local rule says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, get_args

from permits.workdays import Deadline, WorkCalendar, add_workdays, workdays_between

DayUnit = Literal["working_day", "calendar_day"]
PauseKind = Literal["hearing", "testing", "inspection", "expert_review"]
ClockScope = Literal["task", "joint"]
PAUSE_KINDS: Final = get_args(PauseKind)

NOTICE_DAYS: Final = 5  # Art. 32(4)
# Queues put a task first once its statutory limit is this many working days away or less.
NEAR_LIMIT_DAYS: Final = 2
_MAX_WALK_DAYS: Final = 3660
_ONE_DAY: Final = dt.timedelta(days=1)


class ClockError(ValueError):
    """A clock record that the law does not allow (an extension without approval, a notice before receipt…)."""


@dataclass(frozen=True, slots=True)
class ClockRules:
    """What varies by jurisdiction. `region` is the province's 2-digit code for the calendar's overrides.

    A submission received on a rest day counts as received on the next working day by default (common practice,
    DOMAIN §5.1 ⚠); a supplement after acceptance stops the clock only under a cited local rule.
    """

    region: str | None = None
    rest_day_receipt_moves: bool = True
    supplement_stops_clock: bool = False
    supplement_basis: str | None = None

    def __post_init__(self) -> None:
        if self.supplement_stops_clock and not (self.supplement_basis or "").strip():
            raise ClockError("a supplement stops the clock only under a cited local rule: supplement_basis is empty")


@dataclass(frozen=True, slots=True)
class StatutoryLimit:
    days: int
    extension_days: int
    basis: str
    unit: DayUnit = "working_day"


TASK_LIMIT: Final = StatutoryLimit(20, 10, "行政许可法 Art. 42 ¶1")
JOINT_LIMIT: Final = StatutoryLimit(45, 15, "行政许可法 Art. 42 ¶2, Art. 26")


@dataclass(frozen=True, slots=True)
class PromisedLimit:
    """A published shorter limit (承诺时限) for one permit type."""

    days: int
    unit: DayUnit
    basis: str


@dataclass(frozen=True, slots=True)
class Extension:
    """Art. 42's extension: approved by the head of the agency (of the government, for a joint application)
    before the limit ran out, with its reason sent to the applicant."""

    days: int
    approved_by: str
    approved_on: dt.date
    reason: str
    reason_sent_on: dt.date


@dataclass(frozen=True, slots=True)
class Pause:
    """An Art. 45 step. The clock stands still from its start (never before the applicant's written notice) to
    its last day inclusive; `ends_on` None while it lasts."""

    kind: PauseKind
    notified_on: dt.date
    starts_on: dt.date
    ends_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Supplement:
    """A request for materials after acceptance and the applicant's answer (None while awaited)."""

    requested_on: dt.date
    answered_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Completeness:
    """The completeness stage: `accepted_on` None while a timely notice awaits the applicant's materials."""

    received_on: dt.date
    notice_due_on: dt.date
    accepted_on: dt.date | None
    deemed: bool  # accepted by the department's silence or late notice (Art. 32(4))
    provisional: bool


@dataclass(frozen=True, slots=True)
class DecisionDue:
    """A decision's due date with the parts it was made of, as a task row stores them.

    `due_on` is the promised date where one applies and no extension was granted, else the statutory one;
    `due_provisional` is true when any day the computation crossed lies in a year without loaded data.
    `paused_days` counts the days the clock stood still within the statutory period (working days, or
    calendar days for a calendar-day limit); `running` is false while a pause or stopping supplement lasts.
    """

    due_on: dt.date
    due_provisional: bool
    starts_on: dt.date
    statutory_days: int
    statutory_unit: DayUnit
    statutory_due_on: dt.date
    statutory_basis: str
    promised_days: int | None
    promised_unit: DayUnit | None
    promised_due_on: dt.date | None
    extension_days: int
    paused_days: int
    running: bool


def received_on(calendar: WorkCalendar, received: dt.date, rules: ClockRules = ClockRules()) -> Deadline:
    """The day a submission counts as received: itself, or the next working day when received on a rest day."""
    if not rules.rest_day_receipt_moves or calendar.is_workday(received, rules.region):
        return Deadline(received, not calendar.knows(received))
    day, provisional = received, not calendar.knows(received)
    for _ in range(_MAX_WALK_DAYS):
        day += _ONE_DAY
        provisional = provisional or not calendar.knows(day)
        if calendar.is_workday(day, rules.region):
            return Deadline(day, provisional)
    raise ClockError("no working day found within ten years")


def completeness(
    calendar: WorkCalendar,
    *,
    received: dt.date,
    today: dt.date,
    notice_sent_on: dt.date | None = None,
    completed_on: dt.date | None = None,
    accepted_on: dt.date | None = None,
    rules: ClockRules = ClockRules(),
) -> Completeness:
    """When the application counts as accepted (Art. 32(4)).

    `received` is the day it arrived; `notice_sent_on` the one notice of what is missing; `completed_on` the day
    the applicant's answer made the materials complete; `accepted_on` the department's express acceptance.
    """
    receipt = received_on(calendar, received, rules)
    notice_due = add_workdays(calendar, receipt.on, NOTICE_DAYS, region=rules.region)
    provisional = receipt.provisional or notice_due.provisional
    for name, value in (("notice_sent_on", notice_sent_on), ("accepted_on", accepted_on)):
        if value is not None and value < received:
            raise ClockError(f"{name} {value} is before the application was received ({received})")
    if completed_on is not None and (notice_sent_on is None or completed_on < notice_sent_on):
        raise ClockError("completed_on needs a notice of what was missing sent on or before it")

    def outcome(accepted: dt.date | None, deemed: bool) -> Completeness:
        return Completeness(receipt.on, notice_due.on, accepted, deemed, provisional)

    if notice_sent_on is not None and notice_sent_on > notice_due.on:
        return outcome(receipt.on, True)  # a late notice does not undo acceptance by silence
    if notice_sent_on is not None:
        return outcome(completed_on or accepted_on, False)
    if accepted_on is not None and accepted_on <= notice_due.on:
        return outcome(max(accepted_on, receipt.on), False)
    if accepted_on is not None or today > notice_due.on:
        return outcome(receipt.on, True)
    return outcome(None, False)


def decision_due(
    calendar: WorkCalendar,
    *,
    accepted_on: dt.date,
    today: dt.date,
    scope: ClockScope = "task",
    statutory: StatutoryLimit | None = None,
    promised: PromisedLimit | None = None,
    extension: Extension | None = None,
    pauses: Iterable[Pause] = (),
    supplements: Iterable[Supplement] = (),
    rules: ClockRules = ClockRules(),
) -> DecisionDue:
    """The decision's due date from acceptance; `statutory` replaces Art. 42's limit where a law sets another
    (a joint application's is always Art. 42 ¶2's 45 + 15)."""
    limit = JOINT_LIMIT if scope == "joint" else (statutory or TASK_LIMIT)
    pauses, supplements = tuple(pauses), tuple(supplements)
    stopped, running = _stopped_days(accepted_on, today, pauses, supplements, rules)
    base = _walk(calendar, accepted_on, limit.days, limit.unit, stopped, rules.region)
    extension_days = 0
    if extension is not None:
        _check_extension(extension, limit, base.on)
        extension_days = extension.days
    statutory_due = _walk(calendar, accepted_on, limit.days + extension_days, limit.unit, stopped, rules.region)
    provisional = statutory_due.provisional
    paused = _count_stopped(calendar, accepted_on, statutory_due.on, limit.unit, stopped, rules.region)
    due_on, promised_due = statutory_due.on, None
    if promised is not None:
        promised_deadline = _walk(calendar, accepted_on, promised.days, promised.unit, stopped, rules.region)
        promised_due = promised_deadline.on
        if extension is None and promised_due < due_on:
            due_on, provisional = promised_due, promised_deadline.provisional
    return DecisionDue(
        due_on=due_on,
        due_provisional=provisional,
        starts_on=accepted_on,
        statutory_days=limit.days,
        statutory_unit=limit.unit,
        statutory_due_on=statutory_due.on,
        statutory_basis=limit.basis,
        promised_days=promised.days if promised is not None else None,
        promised_unit=promised.unit if promised is not None else None,
        promised_due_on=promised_due,
        extension_days=extension_days,
        paused_days=paused,
        running=running,
    )


def working_days_left(calendar: WorkCalendar, due_on: dt.date, today: dt.date, *, region: str | None = None) -> int:
    """Working days after today up to the due day (0 on the due day itself); negative once overdue."""
    if due_on >= today:
        return workdays_between(calendar, today, due_on, region=region)
    return -workdays_between(calendar, due_on, today, region=region)


def near_statutory_limit(
    calendar: WorkCalendar, statutory_due_on: dt.date, today: dt.date, *, region: str | None = None
) -> bool:
    """Whether the statutory limit is 2 working days away or less (overdue included): such tasks go first."""
    return working_days_left(calendar, statutory_due_on, today, region=region) <= NEAR_LIMIT_DAYS


def _check_extension(extension: Extension, limit: StatutoryLimit, limit_due_on: dt.date) -> None:
    if not 1 <= extension.days <= limit.extension_days:
        raise ClockError(f"an extension is 1 to {limit.extension_days} days under {limit.basis}: {extension.days}")
    if not extension.approved_by.strip():
        raise ClockError("an extension needs the approval of the head of the agency: approved_by is empty")
    if not extension.reason.strip():
        raise ClockError("an extension needs its reason, sent to the applicant: reason is empty")
    if extension.approved_on > limit_due_on:
        raise ClockError(
            f"an extension approved on {extension.approved_on} comes after the limit ran out ({limit_due_on})"
        )
    if extension.reason_sent_on < extension.approved_on:
        raise ClockError("the reason for an extension is sent to the applicant after its approval, not before")


def _stopped_days(
    accepted_on: dt.date,
    today: dt.date,
    pauses: tuple[Pause, ...],
    supplements: tuple[Supplement, ...],
    rules: ClockRules,
) -> tuple[frozenset[dt.date], bool]:
    """The days after acceptance on which the clock stands still; an open span counts through today."""
    spans: list[tuple[dt.date, dt.date | None]] = []
    for pause in pauses:
        if pause.kind not in PAUSE_KINDS:
            raise ClockError(f"only {', '.join(PAUSE_KINDS)} stop the clock (Art. 45), not {pause.kind!r}")
        if pause.ends_on is not None and pause.ends_on < pause.starts_on:
            raise ClockError(f"a {pause.kind} pause ends ({pause.ends_on}) before it starts ({pause.starts_on})")
        spans.append((max(pause.starts_on, pause.notified_on), pause.ends_on))
    if rules.supplement_stops_clock:
        for supplement in supplements:
            if supplement.answered_on is not None and supplement.answered_on < supplement.requested_on:
                raise ClockError("a supplement is answered before it was requested")
            # The request day is one the department worked; the answer day is the last the applicant used.
            spans.append((supplement.requested_on + _ONE_DAY, supplement.answered_on))
    days: set[dt.date] = set()
    running = True
    for first, last in spans:
        if last is None:
            running = running and first > today
            last = today
        day = max(first, accepted_on + _ONE_DAY)
        while day <= last:
            days.add(day)
            day += _ONE_DAY
    return frozenset(days), running


def _walk(
    calendar: WorkCalendar,
    start: dt.date,
    days: int,
    unit: DayUnit,
    stopped: frozenset[dt.date],
    region: str | None,
) -> Deadline:
    """The `days`-th counted day after `start`, skipping stopped days; a calendar-day period ending on a rest
    day moves to the next working day (民法典 Art. 203)."""
    if unit == "working_day" and not stopped:
        return add_workdays(calendar, start, days, region=region)
    day, counted, provisional = start, 0, False
    for _ in range(_MAX_WALK_DAYS):
        if counted == days:
            break
        day += _ONE_DAY
        provisional = provisional or not calendar.knows(day)
        if day in stopped:
            continue
        if unit == "calendar_day" or calendar.is_workday(day, region):
            counted += 1
    else:
        raise ClockError("no due day found within ten years")
    if unit == "calendar_day":
        for _ in range(_MAX_WALK_DAYS):
            if calendar.is_workday(day, region) and day not in stopped:
                break
            day += _ONE_DAY
            provisional = provisional or not calendar.knows(day)
    return Deadline(day, provisional)


def _count_stopped(
    calendar: WorkCalendar,
    start: dt.date,
    end: dt.date,
    unit: DayUnit,
    stopped: frozenset[dt.date],
    region: str | None,
) -> int:
    return sum(
        1 for day in stopped if start < day <= end and (unit == "calendar_day" or calendar.is_workday(day, region))
    )
