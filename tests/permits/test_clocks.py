"""The licensing clocks (permits.clocks): DOMAIN.md §5.3's vectors as decision limits, acceptance by silence
(Art. 32(4)), extensions (Art. 42), Art. 45 pauses, promised limits, rest-day receipt and provincial overrides."""

from __future__ import annotations

import datetime as dt

import pytest

from permits.clocks import (
    ClockError,
    ClockRules,
    Extension,
    Pause,
    PromisedLimit,
    StatutoryLimit,
    Supplement,
    completeness,
    decision_due,
    near_statutory_limit,
    received_on,
    working_days_left,
)
from permits.workdays import Deadline, NationalCalendar, RegionOverrides, add_workdays

NATIONAL = NationalCalendar()
D = dt.date
# Received on a Friday before the National Day break: the notice is due on 2025-10-10, its 5th working day
# (Sunday 28 September is a make-up working day; 1–8 October are not).
RECEIVED = D(2025, 9, 26)
NOTICE_DUE = D(2025, 10, 10)
HEAD = {"approved_by": "局长 (agency head)", "reason": "site inspection needs a second visit"}


@pytest.mark.parametrize(
    ("accepted", "days", "due"),
    [
        (D(2025, 9, 26), 20, D(2025, 10, 30)),
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        (D(2025, 1, 24), 5, D(2025, 2, 7)),
        (D(2025, 4, 30), 3, D(2025, 5, 8)),
        (D(2025, 12, 30), 20, D(2026, 1, 28)),
        (D(2026, 2, 13), 5, D(2026, 2, 27)),
        (D(2026, 2, 13), 20, D(2026, 3, 19)),
        (D(2024, 9, 30), 5, D(2024, 10, 12)),
    ],
)
def test_decision_limits_fall_on_domain_vectors(accepted: dt.date, days: int, due: dt.date) -> None:
    limit = StatutoryLimit(days, 0, "test limit")
    clock = decision_due(NATIONAL, accepted_on=accepted, today=accepted, statutory=limit)
    assert (clock.due_on, clock.statutory_due_on, clock.due_provisional) == (due, due, False)
    assert (clock.statutory_days, clock.extension_days, clock.paused_days) == (days, 0, 0)


def test_the_general_limit_is_twenty_working_days_from_acceptance() -> None:
    clock = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED)
    assert clock.due_on == D(2025, 10, 30)
    assert clock.statutory_basis == "行政许可法 Art. 42 ¶1"
    assert clock.starts_on == RECEIVED
    assert clock.running


def test_no_notice_within_five_working_days_means_accepted_on_the_receipt_day() -> None:
    waiting = completeness(NATIONAL, received=RECEIVED, today=NOTICE_DUE)
    assert (waiting.notice_due_on, waiting.accepted_on, waiting.deemed) == (NOTICE_DUE, None, False)
    silent = completeness(NATIONAL, received=RECEIVED, today=NOTICE_DUE + dt.timedelta(days=1))
    assert (silent.accepted_on, silent.deemed, silent.provisional) == (RECEIVED, True, False)
    assert decision_due(NATIONAL, accepted_on=silent.accepted_on, today=NOTICE_DUE).due_on == D(2025, 10, 30)


def test_a_notice_on_working_day_six_still_leaves_the_application_accepted_on_the_receipt_day() -> None:
    late = completeness(NATIONAL, received=RECEIVED, today=D(2025, 10, 20), notice_sent_on=D(2025, 10, 11))
    assert (late.accepted_on, late.deemed) == (RECEIVED, True)


def test_a_notice_in_time_makes_acceptance_wait_for_the_materials() -> None:
    notice = {"received": RECEIVED, "notice_sent_on": NOTICE_DUE}
    pending = completeness(NATIONAL, today=D(2025, 10, 20), **notice)
    assert (pending.accepted_on, pending.deemed) == (None, False)
    done = completeness(NATIONAL, today=D(2025, 10, 20), completed_on=D(2025, 10, 15), **notice)
    assert (done.accepted_on, done.deemed) == (D(2025, 10, 15), False)


def test_an_express_acceptance_in_time_starts_the_clock_that_day() -> None:
    accepted = completeness(NATIONAL, received=RECEIVED, today=D(2025, 10, 1), accepted_on=D(2025, 9, 29))
    assert (accepted.accepted_on, accepted.deemed) == (D(2025, 9, 29), False)


def test_completeness_records_out_of_order_are_refused() -> None:
    with pytest.raises(ClockError, match="before the application was received"):
        completeness(NATIONAL, received=RECEIVED, today=RECEIVED, notice_sent_on=D(2025, 9, 25))
    with pytest.raises(ClockError, match="completed_on needs a notice"):
        completeness(NATIONAL, received=RECEIVED, today=RECEIVED, completed_on=D(2025, 9, 29))


def test_a_submission_on_a_rest_day_counts_as_received_on_the_next_working_day_where_configured() -> None:
    holiday = D(2025, 10, 4)  # Saturday inside the National Day break
    assert received_on(NATIONAL, holiday) == Deadline(D(2025, 10, 9), provisional=False)
    assert received_on(NATIONAL, holiday, ClockRules(rest_day_receipt_moves=False)).on == holiday
    silent = completeness(NATIONAL, received=holiday, today=D(2025, 11, 1))
    assert (silent.received_on, silent.accepted_on) == (D(2025, 10, 9), D(2025, 10, 9))
    assert silent.notice_due_on == add_workdays(NATIONAL, D(2025, 10, 9), 5).on


def test_an_extension_with_the_heads_approval_and_reason_adds_its_days() -> None:
    extension = Extension(days=10, approved_on=D(2025, 10, 20), reason_sent_on=D(2025, 10, 21), **HEAD)
    clock = decision_due(NATIONAL, accepted_on=RECEIVED, today=D(2025, 10, 21), extension=extension)
    assert clock.statutory_due_on == add_workdays(NATIONAL, RECEIVED, 30).on == D(2025, 11, 13)
    assert (clock.due_on, clock.extension_days) == (D(2025, 11, 13), 10)


def test_a_joint_application_has_forty_five_days_and_up_to_fifteen_more() -> None:
    extension = Extension(days=15, approved_on=D(2025, 10, 20), reason_sent_on=D(2025, 10, 20), **HEAD)
    joint = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, scope="joint")
    assert joint.due_on == add_workdays(NATIONAL, RECEIVED, 45).on
    extended = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, scope="joint", extension=extension)
    assert extended.due_on == add_workdays(NATIONAL, RECEIVED, 60).on
    with pytest.raises(ClockError, match="1 to 10 days"):
        decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, extension=extension)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"approved_by": " "}, "head of the agency"),
        ({"reason": ""}, "reason"),
        ({"approved_on": D(2025, 10, 31)}, "after the limit ran out"),
        ({"reason_sent_on": D(2025, 10, 19)}, "after its approval"),
        ({"days": 0}, "1 to 10 days"),
    ],
)
def test_an_extension_without_what_art_42_asks_is_refused(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"days": 10, "approved_on": D(2025, 10, 20), "reason_sent_on": D(2025, 10, 21)}
    extension = Extension(**{**fields, **HEAD, **change})  # type: ignore[arg-type]
    with pytest.raises(ClockError, match=message):
        decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, extension=extension)


def test_an_art_45_pause_of_seven_working_days_extends_the_deadline_by_exactly_seven() -> None:
    # Testing from Monday 13 to Tuesday 21 October 2025: 7 working days.
    testing = Pause("testing", notified_on=D(2025, 10, 13), starts_on=D(2025, 10, 13), ends_on=D(2025, 10, 21))
    clock = decision_due(NATIONAL, accepted_on=RECEIVED, today=D(2025, 10, 22), pauses=[testing])
    assert clock.paused_days == 7
    assert clock.due_on == add_workdays(NATIONAL, D(2025, 10, 30), 7).on == D(2025, 11, 10)
    assert clock.running


def test_a_pause_counts_from_its_written_notice_and_an_open_one_stops_the_clock_through_today() -> None:
    late_notice = Pause("hearing", notified_on=D(2025, 10, 15), starts_on=D(2025, 10, 13), ends_on=D(2025, 10, 21))
    assert decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, pauses=[late_notice]).paused_days == 5
    open_pause = Pause("expert_review", notified_on=D(2025, 10, 13), starts_on=D(2025, 10, 13))
    clock = decision_due(NATIONAL, accepted_on=RECEIVED, today=D(2025, 10, 15), pauses=[open_pause])
    assert (clock.running, clock.paused_days) == (False, 3)


def test_only_the_art_45_steps_pause_the_clock() -> None:
    pause = Pause("supplement", notified_on=RECEIVED, starts_on=RECEIVED)  # type: ignore[arg-type]
    with pytest.raises(ClockError, match=r"Art\. 45"):
        decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, pauses=[pause])
    backwards = Pause("inspection", notified_on=RECEIVED, starts_on=D(2025, 10, 13), ends_on=D(2025, 10, 10))
    with pytest.raises(ClockError, match="ends"):
        decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, pauses=[backwards])


def test_a_supplement_after_acceptance_stops_the_clock_only_under_a_cited_local_rule() -> None:
    supplement = Supplement(requested_on=D(2025, 10, 13), answered_on=D(2025, 10, 15))  # answered 2 days later
    default = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, supplements=[supplement])
    assert (default.due_on, default.paused_days) == (D(2025, 10, 30), 0)
    local = ClockRules(supplement_stops_clock=True, supplement_basis="某省行政审批条例 Art. 20 (test rule)")
    stopped = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, supplements=[supplement], rules=local)
    assert (stopped.due_on, stopped.paused_days) == (add_workdays(NATIONAL, D(2025, 10, 30), 2).on, 2)
    with pytest.raises(ClockError, match="cited local rule"):
        ClockRules(supplement_stops_clock=True)


def test_a_promised_limit_is_due_first_unless_the_statutory_one_was_extended() -> None:
    promised = PromisedLimit(5, "working_day", "test catalogue")
    clock = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, promised=promised)
    assert (clock.due_on, clock.promised_due_on, clock.statutory_due_on) == (
        D(2025, 10, 10),
        D(2025, 10, 10),
        D(2025, 10, 30),
    )
    assert (clock.promised_days, clock.promised_unit) == (5, "working_day")
    extension = Extension(days=5, approved_on=D(2025, 10, 20), reason_sent_on=D(2025, 10, 20), **HEAD)
    extended = decision_due(NATIONAL, accepted_on=RECEIVED, today=RECEIVED, promised=promised, extension=extension)
    assert extended.due_on == extended.statutory_due_on == add_workdays(NATIONAL, RECEIVED, 25).on


def test_a_calendar_day_promised_limit_ending_on_a_holiday_rolls_forward() -> None:
    # 15 days from 2025-09-20 is Sunday 5 October, inside the National Day break: due Thursday 9 October.
    promised = PromisedLimit(15, "calendar_day", "test catalogue")
    clock = decision_due(NATIONAL, accepted_on=D(2025, 9, 20), today=D(2025, 9, 20), promised=promised)
    assert (clock.due_on, clock.promised_unit, clock.due_provisional) == (D(2025, 10, 9), "calendar_day", False)


def test_a_provinces_typhoon_closure_moves_its_deadlines_only() -> None:
    typhoon = D(2025, 10, 20)  # a made-up closure in Guangdong (44)
    calendar = NationalCalendar(regions={"44": RegionOverrides(rest_days=frozenset({typhoon}))})
    guangdong = decision_due(calendar, accepted_on=RECEIVED, today=RECEIVED, rules=ClockRules(region="44"))
    beijing = decision_due(calendar, accepted_on=RECEIVED, today=RECEIVED, rules=ClockRules(region="11"))
    assert (beijing.due_on, guangdong.due_on) == (D(2025, 10, 30), D(2025, 10, 31))


def test_a_deadline_crossing_a_year_without_data_is_provisional() -> None:
    clock = decision_due(NATIONAL, accepted_on=D(2026, 12, 28), today=D(2026, 12, 28))
    assert (clock.due_on, clock.due_provisional) == (D(2027, 1, 25), True)
    promised = PromisedLimit(2, "working_day", "test catalogue")
    # The promised day lies in 2026, but the statutory walk crossed 2027: only the promised date is used.
    short = decision_due(NATIONAL, accepted_on=D(2026, 12, 28), today=D(2026, 12, 28), promised=promised)
    assert (short.due_on, short.due_provisional) == (D(2026, 12, 30), False)
    assert completeness(NATIONAL, received=D(2026, 12, 29), today=D(2026, 12, 29)).provisional


def test_working_days_left_and_the_near_limit_flag_for_queues() -> None:
    due = D(2025, 10, 30)
    assert working_days_left(NATIONAL, due, D(2025, 10, 27)) == 3
    assert working_days_left(NATIONAL, due, due) == 0
    assert working_days_left(NATIONAL, due, D(2025, 11, 3)) == -2
    assert working_days_left(NATIONAL, D(2025, 10, 9), D(2025, 9, 30)) == 1  # the break is not counted
    assert not near_statutory_limit(NATIONAL, due, D(2025, 10, 27))
    assert near_statutory_limit(NATIONAL, due, D(2025, 10, 28))
    assert near_statutory_limit(NATIONAL, due, D(2025, 11, 3))  # overdue goes first too
