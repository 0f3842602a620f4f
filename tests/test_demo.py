"""The demo engagement is dated around the day it is first created, and keeps its dates."""

from __future__ import annotations

from datetime import date

import pytest

from app.cli import main
from config.settings import DEMO_ENGAGEMENT
from handlers import demo, statement
from handlers.sow import load_engagement_file


@pytest.mark.parametrize(
    ("today", "start", "end", "holiday"),
    [
        (date(2026, 11, 30), date(2026, 10, 1), date(2027, 3, 31), date(2026, 12, 4)),
        (date(2027, 1, 1), date(2026, 12, 1), date(2027, 5, 31), date(2027, 2, 4)),
        (date(2028, 2, 29), date(2028, 1, 1), date(2028, 6, 30), date(2028, 3, 4)),
        (date(2026, 3, 31), date(2026, 2, 1), date(2026, 7, 31), date(2026, 4, 4)),
    ],
)
def test_the_demo_runs_from_last_month_for_six_months(
    today: date, start: date, end: date, holiday: date
) -> None:
    spec = demo.dated(load_engagement_file(DEMO_ENGAGEMENT), demo.demo_start(today))
    assert (spec.start, spec.end) == (start, end)
    assert spec.start <= today <= spec.end
    # the engagement's own holiday (2027-01-04, in the file's third month) moves with the term
    assert spec.calendar.holidays == (holiday,)


def test_month_words() -> None:
    today = date(2027, 1, 15)
    assert statement.month_named("上月", today) == "2026-12" == statement.month_named("last", today)
    assert statement.month_named("本月", today) == "2027-01" == statement.month_named("This", today)
    assert statement.month_named("2026/11", today) == "2026-11"
    with pytest.raises(ValueError):
        statement.month_named("下月", today)


def test_init_demo_dates_the_engagement_once(tmp_path, capsys) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'r.db'}"]
    assert main([*db, "--now", "2027-03-07T10:00:00+08:00", "init", "--demo"]) == 0
    assert main([*db, "--now", "2027-05-20T10:00:00+08:00", "init", "--demo"]) == 0
    assert "DEMO-2026: unchanged" in capsys.readouterr().out
    main(
        [
            *db,
            "--now",
            "2027-05-20T10:00:00+08:00",
            "say",
            "--chat",
            "demo-group",
            "--user",
            "wangli",
            "/进度",
        ]
    )
    assert "周期 2027-02-01 → 2027-07-31" in capsys.readouterr().out
