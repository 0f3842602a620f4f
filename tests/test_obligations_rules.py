"""Recurring obligations' rules, pure: due dates on the Chinese business calendar (National
Day, 调休 make-up days, the engagement's own holidays), quarters, weekly, explicit dates, the
term's edges; when each notice is due and the once-only decisions; compliance."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain import obligations as rules
from domain.workcalendar import BusinessCalendar

CAL = BusinessCalendar("Asia/Shanghai")


def ob(**kw: object) -> rules.Obligation:
    base: dict[str, object] = {"key": "hc", "service": "health_check", "title": "健康检查",
                               "owner": "vendor_pm", "every": "monthly"}  # fmt: skip
    return rules.Obligation(**{**base, **kw})  # type: ignore[arg-type]


def test_first_working_day_skips_national_day_and_counts_make_up_days() -> None:
    # October 2026: 1-7 National Day holiday, so the 8th; January 2026: 1-3 New Year, and
    # Sunday the 4th is a make-up working day (调休).
    assert rules.month_day("first_working_day", CAL, 2026, 10) == date(2026, 10, 8)
    assert rules.month_day("first_working_day", CAL, 2026, 1) == date(2026, 1, 4)
    assert rules.month_day("first_working_day", CAL, 2026, 11) == date(2026, 11, 2)  # Sun 1st
    # Saturday 28 Feb 2026 is a make-up working day: the month's last working day.
    assert rules.month_day("last_working_day", CAL, 2026, 2) == date(2026, 2, 28)
    # A fixed day on a holiday moves to the next working day.
    assert rules.month_day("3", CAL, 2026, 10) == date(2026, 10, 8)


def test_engagement_holidays_move_the_due_date() -> None:
    closed = BusinessCalendar("Asia/Shanghai", holidays=[date(2026, 12, 1)])
    assert rules.month_day("first_working_day", closed, 2026, 12) == date(2026, 12, 2)


def test_monthly_and_quarterly_within_the_window() -> None:
    monthly = rules.due_dates(ob(), CAL, date(2026, 9, 1), date(2026, 12, 31))
    assert monthly == [date(2026, 9, 1), date(2026, 10, 8), date(2026, 11, 2), date(2026, 12, 1)]
    quarterly = rules.due_dates(ob(every="quarterly"), CAL, date(2026, 1, 1), date(2026, 12, 31))
    assert quarterly == [date(2026, 1, 4), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 8)]


def test_term_edges_are_inclusive_and_nothing_outside() -> None:
    assert rules.due_dates(ob(), CAL, date(2026, 11, 2), date(2026, 11, 2)) == [date(2026, 11, 2)]
    assert rules.due_dates(ob(), CAL, date(2026, 11, 3), date(2026, 11, 30)) == []
    assert rules.due_dates(ob(), CAL, date(2026, 12, 2), date(2026, 12, 1)) == []
    start, end = rules.window(date(2026, 11, 25), date(2026, 11, 1), date(2026, 12, 15))
    assert (start, end) == (date(2026, 11, 25), date(2026, 12, 15))
    start, end = rules.window(date(2027, 5, 1), date(2026, 11, 1), date(2027, 4, 30))
    assert start > end  # the term is over: nothing to create


def test_weekly_moves_off_holidays_and_explicit_dates_stay() -> None:
    weekly = rules.due_dates(
        ob(every="weekly", day="mon"), CAL, date(2026, 9, 28), date(2026, 10, 19)
    )
    # Monday 5 Oct is in the National Day week: that week's is Thursday the 8th.
    assert weekly == [date(2026, 9, 28), date(2026, 10, 8), date(2026, 10, 12), date(2026, 10, 19)]
    saturday = rules.due_dates(
        ob(every="weekly", day="sat"), CAL, date(2026, 10, 10), date(2026, 10, 10)
    )
    assert saturday == [date(2026, 10, 10)]  # a make-up Saturday is a working day
    fixed = ob(every="dates", day="", dates=(date(2026, 12, 5), date(2027, 1, 1)))
    assert rules.due_dates(fixed, CAL, date(2026, 12, 1), date(2026, 12, 31)) == [date(2026, 12, 5)]


def test_notice_times_are_business_hours_on_working_days() -> None:
    when = rules.times(ob(remind_days=3, grace_days=2), CAL, date(2026, 10, 8), "Asia/Shanghai")
    # 3 working days before Thursday 8 Oct: back over the holiday to Mon 28 Sep.
    assert when.remind == datetime(2026, 9, 28, 1, 0, tzinfo=UTC)  # 09:00 +08:00
    assert when.overdue == datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # Friday
    # Grace: Fri 9th and Sat 10th (make-up day) pass; Mon 12th escalates.
    assert when.escalate == datetime(2026, 10, 12, 1, 0, tzinfo=UTC)


def test_decide_sends_each_notice_once_and_only_in_business_hours() -> None:
    when = rules.Times(
        remind=datetime(2026, 11, 26, 1, tzinfo=UTC),
        overdue=datetime(2026, 12, 2, 1, tzinfo=UTC),
        escalate=datetime(2026, 12, 4, 1, tzinfo=UTC),
    )
    before = rules.decide(
        rules.OPEN, frozenset(), when, datetime(2026, 11, 25, 2, tzinfo=UTC), True
    )
    assert before == rules.Decision((), when.remind)
    now = datetime(2026, 11, 26, 2, tzinfo=UTC)
    assert rules.decide(rules.OPEN, frozenset(), when, now, True).send == (rules.REMIND,)
    assert rules.decide(rules.OPEN, frozenset({rules.REMIND}), when, now, True).send == ()
    night = rules.decide(rules.OPEN, frozenset(), when, now, False)
    assert night.send == () and night.at_opening
    late = datetime(2026, 12, 3, 2, tzinfo=UTC)
    assert rules.decide(rules.OPEN, frozenset(), when, late, True).send == (rules.OVERDUE,)
    after = datetime(2026, 12, 4, 2, tzinfo=UTC)
    sent = frozenset({rules.REMIND, rules.OVERDUE})
    assert rules.decide(rules.OPEN, sent, when, after, True) == rules.Decision(
        (rules.ESCALATE,), None
    )
    assert rules.decide(rules.SUBMITTED, frozenset(), when, late, True).send == ()
    assert rules.decide(rules.DONE, frozenset(), when, after, True) == rules.Decision((), None)


def test_standing() -> None:
    escalate = datetime(2026, 12, 4, 1, tzinfo=UTC)
    due, now = date(2026, 12, 1), datetime(2026, 12, 10, tzinfo=UTC)
    assert rules.standing(due, date(2026, 12, 1), escalate, now) == rules.ON_TIME
    assert rules.standing(due, date(2026, 12, 2), escalate, now) == rules.LATE
    assert rules.standing(due, None, escalate, now) == rules.MISSED
    assert rules.standing(due, None, escalate, datetime(2026, 12, 2, tzinfo=UTC)) == rules.PENDING


def test_an_upgrade_windows_span_in_its_time_zone_and_when_evidence_is_due() -> None:
    window = ob(every="dates", day="", dates=(date(2026, 12, 5),), window_start="22:00",
                window_hours=4, evidence="both")  # fmt: skip
    assert window.is_window and window.needs_ack
    start, end = rules.window_span(window, date(2026, 12, 5), "Asia/Shanghai") or (None, None)
    assert (start, end) == (
        datetime(2026, 12, 5, 14, tzinfo=UTC),
        datetime(2026, 12, 5, 18, tzinfo=UTC),
    )
    # It ends after midnight (Sunday 6 Dec, 02:00): its result is on time that day.
    assert rules.evidence_due(window, date(2026, 12, 5), "Asia/Shanghai") == date(2026, 12, 6)
    when = rules.times(window, CAL, date(2026, 12, 5), "Asia/Shanghai")
    assert (when.start, when.end) == (start, end)
    assert when.overdue == datetime(2026, 12, 7, 1, tzinfo=UTC)  # Monday 09:00, after the 6th
    assert rules.window_span(ob(), date(2026, 12, 1), "Asia/Shanghai") is None
    assert rules.evidence_due(ob(), date(2026, 12, 1), "Asia/Shanghai") == date(2026, 12, 1)


def test_decide_a_windows_start_block_and_end_at_their_moment_whatever_the_hour() -> None:
    start, end = datetime(2026, 12, 5, 14, tzinfo=UTC), datetime(2026, 12, 5, 18, tzinfo=UTC)
    when = rules.Times(remind=datetime(2026, 12, 2, 1, tzinfo=UTC),
                       overdue=datetime(2026, 12, 7, 1, tzinfo=UTC),
                       escalate=datetime(2026, 12, 9, 1, tzinfo=UTC), start=start, end=end)  # fmt: skip
    reminded = frozenset({rules.REMIND})
    before = rules.decide(rules.OPEN, reminded, when, datetime(2026, 12, 4, tzinfo=UTC), True)
    assert before == rules.Decision((), start)  # the next look is the start
    # At the start, on a Saturday night (not business hours): a signed window begins…
    at_start = rules.decide(rules.OPEN, reminded, when, start, False, approved=True)
    assert at_start.send == (rules.START,) and at_start.next_check == end
    # … an unsigned one is blocked, and nothing more of the window is said.
    blocked = rules.decide(rules.OPEN, reminded, when, start, False, approved=False)
    assert blocked.send == (rules.BLOCKED,) and blocked.next_check == when.overdue
    after_block = rules.decide(rules.OPEN, reminded | {rules.BLOCKED}, when, end, False)
    assert after_block.send == () and after_block.next_check == when.overdue
    # The end, once begun; then only the evidence's notices are left.
    started = reminded | {rules.START}
    assert rules.decide(rules.OPEN, started, when, end, False).send == (rules.END,)
    assert rules.decide(rules.SUBMITTED, started, when, end, False).send == (rules.END,)
    ended = started | {rules.END}
    assert rules.decide(rules.OPEN, ended, when, end, False) == rules.Decision((), when.overdue)
    # A window that passed while nobody looked is told by its end alone.
    late = rules.decide(rules.OPEN, reminded, when, end, False, approved=True)
    assert late.send == (rules.END,)
    # A business-hours notice that waits for the opening does not hold back the window's.
    waiting = rules.decide(rules.OPEN, frozenset(), when, start, False, approved=True)
    assert waiting.send == (rules.START,) and waiting.at_opening and waiting.next_check == end
