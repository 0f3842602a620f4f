"""The console's pages: the portfolio (`/`), an engagement (`/e/{code}`), a ticket
(`/e/{code}/tickets/T-n`) and a closed month's statement (`/e/{code}/statements/YYYY-MM.xlsx`).

Every page is for a signed-in viewer (`page_viewer`) and an engagement they may see
(`seat_for`: else 404, as for one that does not exist). Query parameters are read and checked
here, never by FastAPI's validation: a bad value is dropped or answered with a 400 page, not a
JSON error. The data come from `web.views` (bounded queries), the charts from `web.charts`."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from bot import clock
from bot.durations import format_person_days
from bot.i18n import tr
from domain.catalog import LEVELS, PARTIES, SEVERITIES
from handlers import (
    change_text,
    delivery_text,
    obligations_text,
    statement,
    status_text,
    ticket_text,
)
from handlers.budget import level_name
from storage.models import Engagement
from web import charts
from web.access import Seat, Viewer
from web.auth import page_viewer, reading, seat_for
from web.render import locale_of, page
from web.views import engagement as views
from web.views import heatmap, obligations, portfolio, sla
from web.views import tickets as ticket_views
from web.views.summary import summary

router = APIRouter()

_CODE_MAX = 40
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL_COLOURS = {"junior": "#a9c4ff", "mid": "#6f9bff", "senior": "#3370ff",
                 "expert": "#1d4ed8", "principal": "#0b2a7a"}  # fmt: skip
PERIOD_STATUS = {"closed": ("厂商已关闭·待甲方确认", "closed, awaiting the client"),
                 "locked": ("双方已签署", "signed by both")}  # fmt: skip
BLOCKER_STATUS = {True: ("已解除", "cleared"), False: ("未解除", "open")}


@dataclass(frozen=True)
class Words:
    """Names of states and keys in the page's language, and numbers as people read them."""

    locale: str
    timezone: str = "Asia/Shanghai"
    hours_per_day: int = 8

    def t(self, zh: str, en: str, **values: Any) -> str:
        return tr(self.locale, zh, en, **values)

    def phase(self, key: str) -> str:
        return self.t(*status_text.PHASES.get(key, (key, key)))

    def ticket_status(self, key: str) -> str:
        return self.t(*ticket_text.STATUS.get(key, (key, key)))

    def cr_status(self, key: str) -> str:
        return self.t(*change_text.STATUS.get(key, (key, key)))

    def deliverable_status(self, key: str) -> str:
        return self.t(*delivery_text.STATUS.get(key, (key, key)))

    def period_status(self, key: str) -> str:
        return self.t(*PERIOD_STATUS.get(key, (key, key)))

    def blocker_status(self, cleared: bool) -> str:
        return self.t(*BLOCKER_STATUS[cleared])

    def obligation_state(self, key: str) -> str:
        return obligations_text.state_name(key, self.locale)

    def severity(self, key: str) -> str:
        return f"{key} {SEVERITIES[key].name(self.locale)}" if key in SEVERITIES else key

    def level(self, key: str) -> str:
        return level_name(key, self.locale) if key in LEVELS or key == "total" else key

    def party(self, key: str) -> str:
        return PARTIES[key].name(self.locale) if key in PARTIES else key

    def when(self, moment: datetime | None) -> str:
        return ticket_text.when(moment, self.timezone)

    def day(self, moment: date | None) -> str:
        return "—" if moment is None else moment.isoformat()

    def pd(self, minutes: int) -> str:
        return format_person_days(minutes, self.hours_per_day)

    def days(self, minutes: int, hours_per_day: int) -> str:
        """Person-days of an engagement with its own length of day."""
        return format_person_days(minutes, hours_per_day)

    def share(self, share: sla.Share) -> str:
        return "—" if share.percent is None else f"{share.percent}%"

    def share_class(self, share: sla.Share) -> str:
        percent = share.percent
        if percent is None:
            return "muted"
        return "ok" if percent >= 95 else "warn" if percent >= 80 else "bad"


# -- the portfolio ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def portfolio_page(request: Request) -> Response:
    with reading(request) as session:
        viewer = page_viewer(session, request)
        locale = locale_of(request, viewer.locale)
        sort = request.query_params.get("sort", "worst")
        sort = sort if sort in portfolio.SORTS else "worst"
        rows = portfolio.rows(session, viewer, clock.now(), sort)
        return page(request, "portfolio.html", locale, viewer=viewer, rows=rows, sort=sort,
                    words=Words(locale), severities=list(SEVERITIES))  # fmt: skip


# -- an engagement ----------------------------------------------------------------------------


@router.get("/e/{code}", response_class=HTMLResponse)
def engagement_page(request: Request, code: str) -> Response:
    with reading(request) as session:
        viewer = page_viewer(session, request)
        seat = _seat(request, viewer, code)
        if isinstance(seat, Response):
            return seat
        engagement = session.get(Engagement, seat.engagement_id)
        assert engagement is not None
        locale = locale_of(request, seat.locale)
        words = Words(locale, engagement.timezone, engagement.hours_per_day)
        now = clock.now()
        view = summary(session, engagement, now)
        month = views.month_of(engagement, request.query_params.get("month"), view.today)
        if month is None:
            return _problem(request, viewer, locale, 400,
                            words.t("月份须为项目周期内的 YYYY-MM（{a} → {b}）。",
                                    "The month must be YYYY-MM within the engagement ({a} → {b}).",
                                    a=engagement.start_date, b=engagement.end_date))  # fmt: skip
        first, last = views.month_span(month)
        people = ticket_views.assignees(session, seat.engagement_id)
        filters = ticket_views.Filters.parse(request.query_params, people)
        work = views.work_by_day(session, seat.engagement_id)
        burn = views.burn_up(session, engagement, view.budget, view.today, work)
        weeks = sla.weekly(session, engagement, first, last, now)
        sheet = heatmap.timesheet(session, engagement, first, last, work)
        listing = ticket_views.ticket_page(session, engagement, filters, now, locale)
        records = views.records(session, engagement, now)
        duties = obligations.section(session, engagement, now, view.today, locale)
        months = views.term_months(engagement)
        return page(
            request, "engagement.html", locale, viewer=viewer, seat=seat, view=view, words=words,
            month=month, months=months, burn_svg=burnup_svg(burn, words), weeks=weeks,
            severities=list(SEVERITIES), heat_svg=heat_svg(sheet, words), sheet=sheet,
            listing=listing, filters=filters, assignees=people,
            states=ticket_views.STATE_CHOICES, records=records, burn=burn, obligations=duties,
        )  # fmt: skip


@router.get("/e/{code}/tickets/{ref}", response_class=HTMLResponse)
def ticket_page(request: Request, code: str, ref: str) -> Response:
    with reading(request) as session:
        viewer = page_viewer(session, request)
        seat = _seat(request, viewer, code)
        if isinstance(seat, Response):
            return seat
        engagement = session.get(Engagement, seat.engagement_id)
        assert engagement is not None
        locale = locale_of(request, seat.locale)
        words = Words(locale, engagement.timezone, engagement.hours_per_day)
        number = ticket_views.parse_ref(ref)
        ticket = None
        if number is not None:
            ticket = ticket_views.ticket_view(session, engagement, number, clock.now(), locale)
        if ticket is None:
            return _problem(request, viewer, locale, 404,
                            words.t("没有工单 {r}。", "No ticket {r}.", r=ref[:20]), seat=seat)  # fmt: skip
        return page(request, "ticket.html", locale, viewer=viewer, seat=seat, ticket=ticket,
                    words=words)  # fmt: skip


@router.get("/e/{code}/statements/{month}.xlsx")
def statement_file(request: Request, code: str, month: str) -> Response:
    """A closed (or locked) month's statement, as `rentian export statement` writes it."""
    with reading(request) as session:
        viewer = page_viewer(session, request)
        seat = _seat(request, viewer, code)
        if isinstance(seat, Response):
            return seat
        engagement = session.get(Engagement, seat.engagement_id)
        assert engagement is not None
        locale = locale_of(request, seat.locale)
        closed = dict(views.statement_months(session, seat.engagement_id))
        if month not in views.term_months(engagement) or month not in closed:
            return _problem(request, viewer, locale, 404, tr(
                locale, "{m} 没有可下载的结算单：只有厂商已关闭或双方已签署的月份才有。",
                "No statement for {m}: only months the vendor closed or both parties signed have one.",
                m=month[:10]), seat=seat)  # fmt: skip
        from handlers import statement_export  # XlsxWriter loads only when a file is asked for

        built = statement.build(session, engagement, month)
        with tempfile.TemporaryDirectory(prefix="rentian-statement-") as folder:
            path = Path(folder) / "statement.xlsx"
            statement_export.write_xlsx(built, path)
            content = path.read_bytes()
    name = f"{engagement.code}-{month}-statement.xlsx"
    return Response(content, media_type=_XLSX,
                    headers={"content-disposition": f'attachment; filename="{name}"'})  # fmt: skip


# -- helpers ----------------------------------------------------------------------------------


def _seat(request: Request, viewer: Viewer, code: str) -> Seat | Response:
    """The viewer's seat in `code`, or the 404 page (also for a code that is not one)."""
    try:
        if len(code) > _CODE_MAX:
            raise HTTPException(404)
        return seat_for(viewer, code)
    except HTTPException:
        locale = locale_of(request, viewer.locale)
        return _problem(request, viewer, locale, 404, tr(
            locale, "没有这个项目，或您无权查看。", "No such engagement, or not one you may see."))  # fmt: skip


def _problem(request: Request, viewer: Viewer, locale: str, status: int, message: str,
             seat: Seat | None = None) -> Response:  # fmt: skip
    return page(request, "problem.html", locale, status_code=status, viewer=viewer,
                message=message, status=status, seat=seat)  # fmt: skip


def burnup_svg(burn: views.BurnUp, words: Words) -> str:
    """Used person-days stacked by level, the contract, the signed plan, the forecast."""
    days = burn.hours_per_day * 60
    levels = {level: dict(points) for level, points in burn.used.items()}
    moments = sorted({d for points in levels.values() for d in points})
    if moments and moments[-1] < burn.today <= burn.end:
        moments.append(burn.today)  # the stack runs flat to today
    running = dict.fromkeys(levels, 0)
    layers: dict[str, list[tuple[date, float]]] = {level: [] for level in levels}
    for day in moments:  # junior at the bottom: each layer is the sum of those below and itself
        height = 0
        for level, by_day in levels.items():
            running[level] = by_day.get(day, running[level])
            height += running[level]
            layers[level].append((day, height / days))
    series = [charts.Series(words.level(level), tuple(points), LEVEL_COLOURS.get(level, "#3370ff"),
                            "area") for level, points in reversed(layers.items())]  # fmt: skip
    series.append(charts.Series(words.t("合同（含变更）", "contract (with CRs)"),
                                tuple((d, m / days) for d, m in burn.contract), "#d83931", "step"))  # fmt: skip
    if burn.plan:
        series.append(charts.Series(words.t("签署计划", "signed plan"),
                                    tuple((d, m / days) for d, m in burn.plan), "#2ea121", "step"))  # fmt: skip
    if burn.forecast:
        series.append(charts.Series(words.t("预测", "forecast"),
                                    tuple((d, m / days) for d, m in burn.forecast), "#de7802", "dashed"))  # fmt: skip
    return charts.time_chart(
        series, start=burn.start, end=burn.end, today=burn.today,
        title=words.t("人天燃尽（累计）", "Person-days burn-up"), unit=words.t("人天", "person-days"),
        today_label=words.t("今天", "today"), empty=words.t("尚无报工", "nothing logged yet"),
    )  # fmt: skip


def heat_svg(sheet: heatmap.Timesheet, words: Words) -> str:
    hours = 60
    rows = [charts.HeatRow(f"{p.name} · {words.level(p.level)}" if p.level else p.name,
                           tuple(m / hours for m in p.minutes)) for p in sheet.people]  # fmt: skip
    columns = [charts.HeatColumn(str(d.day), not working)
               for d, working in zip(sheet.days, sheet.working, strict=True)]  # fmt: skip
    return charts.heatmap(rows, columns, title=words.t("{m} 工时（小时）", "{m} hours logged", m=sheet.month),
                          full=float(sheet.hours_per_day), unit=words.t("小时", "h"),
                          empty=words.t("本月无人报工", "nobody logged this month"))  # fmt: skip
