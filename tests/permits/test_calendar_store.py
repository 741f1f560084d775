"""The calendar store: a loaded year makes provisional deadlines final (the hook recomputes them in the load's
transaction), provincial overrides move deadlines, the per-process cache follows the change counter, bad
schedule files are refused, and the promised limits' data file holds together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flexreg.cli import main
from permits import calendar_store
from permits.calendar_models import CalendarOverride, CalendarYear
from permits.calendar_store import (
    CalendarFileError,
    Override,
    add_overrides,
    current_calendar,
    load_year,
    make_override,
    parse_overrides,
    parse_schedule,
)
from permits.clocks import ClockRules, DecisionDue, decision_due
from permits.time_limits import load_time_limits, task_acceptance, task_due
from permits.workdays import NationalCalendar
from registry.catalogue import load_catalogue

D = dt.date
FICTIONAL_2027 = Path(__file__).parent / "data" / "fictional-2027.toml"
NOW = dt.datetime(2026, 12, 20, 9, 0, tzinfo=dt.UTC)


def _schedule(body: str) -> str:
    return f'year = 2027\nsource = "test notice"\n{body}\n'


async def test_a_provisional_2027_deadline_is_recomputed_in_the_loads_transaction(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = decision_due(await current_calendar(session), accepted_on=D(2026, 12, 28), today=D(2026, 12, 28))
    assert (before.due_on, before.due_provisional) == (D(2027, 1, 25), True)
    recomputed: list[tuple[int, dt.date, bool, int | None]] = []

    async def recompute(hook_session: AsyncSession, calendar: NationalCalendar, year: int) -> None:
        due = decision_due(calendar, accepted_on=D(2026, 12, 28), today=D(2026, 12, 28))
        stored = await hook_session.scalar(select(CalendarYear.year).where(CalendarYear.year == year))
        recomputed.append((year, due.due_on, due.due_provisional, stored))

    monkeypatch.setattr(calendar_store, "on_year_loaded", [recompute])
    await load_year(session, parse_schedule(FICTIONAL_2027.read_bytes()), now=NOW)
    # The fictional schedule rests on Friday 1 January 2027: one working day later, and final.
    assert recomputed == [(2027, D(2027, 1, 26), False, 2027)]
    after = decision_due(await current_calendar(session), accepted_on=D(2026, 12, 28), today=D(2026, 12, 28))
    assert (after.due_on, after.due_provisional) == (D(2027, 1, 26), False)


async def test_a_failing_hook_leaves_the_year_unloaded(session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(hook_session: AsyncSession, calendar: NationalCalendar, year: int) -> None:
        raise RuntimeError("recompute failed")

    monkeypatch.setattr(calendar_store, "on_year_loaded", [broken])
    savepoint = await session.begin_nested()
    with pytest.raises(RuntimeError, match="recompute failed"):
        await load_year(session, parse_schedule(FICTIONAL_2027.read_bytes()), now=NOW)
    await savepoint.rollback()
    assert await session.scalar(select(func.count()).select_from(CalendarYear)) == 0
    assert not (await current_calendar(session)).knows(D(2027, 3, 1))


async def test_loading_a_year_again_replaces_it(session: AsyncSession) -> None:
    await load_year(session, parse_schedule(FICTIONAL_2027.read_bytes()), now=NOW)
    await load_year(session, parse_schedule(_schedule("holidays = [2027-03-01]")), now=NOW)
    calendar = await current_calendar(session)
    assert not calendar.is_workday(D(2027, 3, 1))
    assert calendar.is_workday(D(2027, 1, 1))
    row = await session.get(CalendarYear, 2027)
    assert row is not None
    assert (row.source, row.holidays, row.makeup_workdays) == ("test notice", [D(2027, 3, 1)], [])


async def test_a_typhoon_closure_moves_that_provinces_deadlines(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Sequence[Override]] = []

    async def note(hook_session: AsyncSession, calendar: NationalCalendar, overrides: Sequence[Override]) -> None:
        seen.append(overrides)

    monkeypatch.setattr(calendar_store, "on_overrides_added", [note])
    typhoon = make_override("44", D(2025, 10, 20), "rest", "台风停工 (test)")
    await add_overrides(session, [typhoon])
    calendar = await current_calendar(session)
    guangdong = decision_due(calendar, accepted_on=D(2025, 9, 26), today=D(2025, 9, 26), rules=ClockRules(region="44"))
    elsewhere = decision_due(calendar, accepted_on=D(2025, 9, 26), today=D(2025, 9, 26), rules=ClockRules(region="45"))
    assert (elsewhere.due_on, guangdong.due_on) == (D(2025, 10, 30), D(2025, 10, 31))
    assert seen == [[typhoon]]
    # Announced again as a working day after all: one row per province and day, the later one wins.
    await add_overrides(session, [make_override("44", D(2025, 10, 20), "work", "停工取消 (test)")])
    assert (await current_calendar(session)).is_workday(D(2025, 10, 20), "44")
    assert await session.scalar(select(func.count()).select_from(CalendarOverride)) == 1


async def test_the_cached_calendar_is_reused_until_the_counter_moves(session: AsyncSession) -> None:
    first = await current_calendar(session)
    assert await current_calendar(session) is first
    await add_overrides(session, [make_override("45", D(2025, 4, 1), "rest", "三月三 (test date)")])
    moved = await current_calendar(session)
    assert moved is not first
    assert not moved.is_workday(D(2025, 4, 1), "45")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("holidays = [2026-12-31, 2027-01-01]", "2026-12-31 not in 2027"),
        ("holidays = [2027-01-01]\nmakeup_workdays = [2028-01-08]", "makeup_workdays: 2028-01-08 not in 2027"),
        ("holidays = [2027-01-01, 2027-02-20]\nmakeup_workdays = [2027-02-20]", "2027-02-20 both in holidays"),
        ("holidays = [2027-01-01, 2027-01-01]", "2027-01-01 listed twice"),
        ('holidays = ["1 January"]', "Expected `date`"),
        ("holidays = [2027-01-01]\nwork = []", "unknown field"),
    ],
)
def test_bad_schedule_files_are_refused_with_the_reason(body: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_schedule(_schedule(body))


def test_a_count_other_than_thirteen_days_is_a_warning_not_a_refusal() -> None:
    loaded = parse_schedule(_schedule("holidays = [2027-01-01]\nmakeup_workdays = [2027-01-04]"))
    assert loaded.schedule.holidays == {D(2027, 1, 1)}
    assert any("not the 13 statutory days" in warning for warning in loaded.warnings)
    assert any("on weekdays" in warning for warning in loaded.warnings)
    assert parse_schedule(FICTIONAL_2027.read_bytes()).warnings == ()


def test_load_calendar_refuses_a_bad_file_before_touching_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "2027.toml"
    bad.write_text(_schedule("holidays = [2026-10-01]\nmakeup_workdays = [2026-10-01]"))
    assert main(["load-calendar", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "2026-10-01 not in 2027" in error
    assert "both in holidays and in makeup_workdays" in error
    assert main(["add-calendar-override", "--region", "99", "--date", "2025-10-20", "--kind", "rest"]) == 2
    assert "give --file, or all of" in capsys.readouterr().err


def test_override_files_are_checked() -> None:
    text = '[[override]]\nregion = "44"\ndate = 2025-10-20\nkind = "rest"\nreason = "台风"\n'
    assert parse_overrides(text) == [Override("44", D(2025, 10, 20), "rest", "台风")]
    with pytest.raises(CalendarFileError, match="listed twice"):
        parse_overrides(text + text)
    with pytest.raises(CalendarFileError, match="region"):
        parse_overrides(text.replace('"44"', '"4"'))
    with pytest.raises(CalendarFileError, match="reason"):
        make_override("44", D(2025, 10, 20), "rest", "  ")


def test_promised_limits_name_known_permit_types_and_the_closest_scope_wins() -> None:
    limits = load_time_limits()
    known = set(load_catalogue().permit_types)
    assert {entry.permit_type for entry in limits.promised} <= known
    road = limits.promised_limit("road_occupancy", "110101001000")
    green = limits.promised_limit("road_occupancy", "110101001000", green_channel=True)
    assert road is not None
    assert green is not None
    assert (road.days, road.unit, green.days) == (7, "calendar_day", 5)
    assert limits.promised_limit("road_occupancy", "310101001000") is None
    rules = limits.clock_rules_for("440305001000")
    assert (rules.region, rules.supplement_stops_clock, rules.rest_day_receipt_moves) == ("44", False, True)


def test_a_tasks_due_date_takes_its_types_promised_limit_and_the_green_channels_where_verified() -> None:
    calendar = NationalCalendar()
    accepted = D(2025, 9, 26)

    def due(code: str, *, green_channel: bool = False) -> DecisionDue:
        return task_due(
            calendar,
            permit_type="food_stall_filing",
            jurisdiction_code=code,
            accepted_on=accepted,
            today=accepted,
            green_channel=green_channel,
        )

    usual, green, elsewhere = due("110101001000"), due("110101001000", green_channel=True), due("440305001000")
    assert (usual.due_on, usual.promised_days) == (D(2025, 9, 30), 3)
    assert (green.due_on, green.promised_days) == (D(2025, 9, 28), 1)  # a make-up Sunday is a working day
    assert (elsewhere.due_on, elsewhere.promised_days) == (D(2025, 10, 30), None)
    assert usual.statutory_due_on == green.statutory_due_on == D(2025, 10, 30)
    # Received on a Saturday of the National Day break: counted from Thursday 9 October (the national rule).
    acceptance = task_acceptance(
        calendar, jurisdiction_code="110101001000", received=D(2025, 10, 4), today=D(2025, 11, 1)
    )
    assert (acceptance.received_on, acceptance.accepted_on, acceptance.deemed) == (D(2025, 10, 9), D(2025, 10, 9), True)
