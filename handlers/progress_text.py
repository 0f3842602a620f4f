"""The daily sync and the weekly report as chat text: short lines, no wide tables."""

from __future__ import annotations

from bot.durations import format_person_days, format_span
from bot.i18n import join, tr
from domain.catalog import SERVICES, SEVERITIES
from handlers.budget import level_name
from handlers.progress import DailySync, TicketLine
from handlers.progress_weekly import Attainment, WeeklyReport
from handlers.ticket_states import awaiting_confirmation
from handlers.ticket_text import status_name

PARTY_SIGNERS = {
    "vendor": ("厂商项目经理", "vendor PM"),
    "client": ("甲方审批人", "client approver"),
}


def daily_text(sync: DailySync, locale: str, *, with_budget: bool = True) -> str:
    days = sync.hours_per_day
    head = tr(locale, "📊 {c} 进度同步 {d}", "📊 {c} progress sync {d}", c=sync.code, d=sync.day)
    if sync.late:
        head += tr(locale, "（补发）", " (late)")
    if sync.quiet:
        return head + tr(
            locale, "：今日无新进展，无待办事项。", ": nothing new today and nothing pending."
        )
    lines = [head]
    if sync.work:
        total = format_person_days(sum(w.minutes for w in sync.work), days)
        lines.append(tr(locale, "今日报工 {t} 人天：", "Logged today: {t} person-days", t=total))
        lines += [
            f"· {w.person} {format_person_days(w.minutes, days)} → {_target(w.target, locale)}"
            for w in sync.work
        ]
    else:
        lines.append(tr(locale, "今日报工：无", "Logged today: nothing"))
    if sync.opened or sync.resolved:
        lines.append(tr(locale, "工单：新开 {o}；解决 {r}", "Tickets: opened {o}; resolved {r}",
                        o=join(locale, list(sync.opened)) or "—", r=join(locale, list(sync.resolved)) or "—"))  # fmt: skip
    if sync.open_tickets:
        lines.append(
            tr(locale, "未关闭工单 {n}：", "Open tickets ({n}):", n=len(sync.open_tickets))
        )
        for t in sync.open_tickets:
            lines.append(f"· {t.ref} {t.severity} {t.title} · {_left(t, locale)}")
    if sync.blockers:
        lines.append(tr(locale, "阻塞 {n}：", "Blockers ({n}):", n=len(sync.blockers)))
        lines += [tr(locale, "· {r} {d} · {o} · 已 {a}", "· {r} {d} · {o} · open {a}", r=b.ref, d=b.description,
                     o=b.owner, a=format_span(b.age_minutes, locale)) for b in sync.blockers]  # fmt: skip
    for waiting in sync.waiting:
        who = join(locale, [tr(locale, *PARTY_SIGNERS[p]) for p in waiting.parties])
        lines.append(
            tr(locale, "✍️ {r} 待签署：{w}", "✍️ {r} awaiting signature: {w}", r=waiting.ref, w=who)
        )
    if sync.due_tasks:
        lines.append(tr(locale, "三个工作日内到期：", "Due within three working days:"))
        lines += [f"· {t.ref} {t.title} · {t.plan_date} · {t.assignee}" for t in sync.due_tasks]
    if with_budget:
        lines.append(budget_text(sync, locale))
    return "\n".join(lines)


def budget_text(sync: DailySync, locale: str) -> str:
    days, line = sync.hours_per_day, sync.budget
    levels = " · ".join(f"{level_name(level, locale)} {format_person_days(used, days)}/{format_person_days(total, days)}"
                        for level, used, total in line.levels if total or used)  # fmt: skip
    text = tr(locale, "💰 人天 {u}/{c}（{l}）", "💰 Person-days {u}/{c} ({l})", u=format_person_days(line.used, days),
              c=format_person_days(line.contracted, days), l=levels or "—")  # fmt: skip
    if line.runs_out:
        text += tr(
            locale, "，按近期速度 {d} 用完", ", runs out {d} at the recent rate", d=line.runs_out
        )
    return text


def _target(ref: str, locale: str) -> str:
    return SERVICES[ref].name(locale) if ref in SERVICES else ref


def _left(ticket: TicketLine, locale: str) -> str:
    minutes, breached = ticket.left_minutes, ticket.breached
    if awaiting_confirmation(ticket.status):
        return status_name(ticket.status, locale)
    if minutes is None:
        return tr(locale, "挂起中", "paused")
    if minutes < 0 or breached:
        return tr(
            locale,
            "🔴 已超时 {t}",
            "🔴 breached by {t}",
            t=format_span(abs(min(minutes, 0)), locale),
        )
    return tr(locale, "剩 {t}", "{t} left", t=format_span(minutes, locale))


def weekly_text(report: WeeklyReport, locale: str) -> str:
    days = report.hours_per_day
    head = tr(locale, "📅 {c} 周报 {w}（{a} → {b}）", "📅 {c} weekly report {w} ({a} → {b})", c=report.code,
              w=report.week, a=report.start, b=report.end)  # fmt: skip
    if report.late:
        head += tr(locale, "（补发）", " (late)")
    total = sum(report.by_level.values())
    lines = [head, tr(locale, "人天：{u}（计划 {p}）", "Person-days: {u} (plan {p})", u=format_person_days(total, days),
                      p=format_person_days(report.plan_minutes, days))]  # fmt: skip
    lines += [
        f"· {level_name(level, locale)} {format_person_days(m, days)}"
        for level, m in report.by_level.items()
        if m
    ]
    lines.append(tr(locale, "SLA 达成（响应 / 解决）：", "SLA met (response / resolution):"))
    severities = sorted(set(report.response) | set(report.resolution))
    for severity in severities:
        lines.append(f"· {severity} {SEVERITIES[severity].name(locale)} "
                     f"{_share(report.response.get(severity))} / {_share(report.resolution.get(severity))}")  # fmt: skip
    if not severities:
        lines.append(tr(locale, "· 本周无工单", "· no tickets this week"))
    if report.by_service:
        services = [f"{SERVICES[k].name(locale) if k in SERVICES else tr(locale, '未分类', 'unclassified')} {n}"
                    for k, n in sorted(report.by_service.items())]  # fmt: skip
        lines.append(
            tr(locale, "工单按服务：{s}", "Tickets by service: {s}", s=join(locale, services))
        )
    if report.deflected:
        lines.append(tr(locale, "知识库解答：{n} 个工单（无需人工处理）",
                        "Answered by the knowledge base: {n} tickets", n=report.deflected))  # fmt: skip
    lines.append(tr(locale, "阻塞：新增 {o}，解除 {c}，损失 {t}", "Blockers: {o} opened, {c} cleared, {t} lost",
                    o=report.blockers_opened, c=report.blockers_cleared, t=format_span(report.time_lost_minutes, locale)))  # fmt: skip
    lines.append(tr(locale, "签署生效的变更：{c}；验收的交付物：{d}", "Change requests signed: {c}; deliverables accepted: {d}",
                    c=join(locale, list(report.crs_signed)) or "—", d=join(locale, list(report.accepted)) or "—"))  # fmt: skip
    return "\n".join(lines)


def _share(value: Attainment | None) -> str:
    if value is None or not value.total:
        return "—"
    return f"{value.met}/{value.total}"
