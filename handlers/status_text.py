"""How /status reads in a chat: the engagement at a glance. The overview's values are gathered
by `handlers.status`; here they become text. Text only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.durations import format_person_days
from bot.i18n import join, tr
from domain.catalog import LEVELS, SERVICES


@dataclass(frozen=True)
class Overview:
    code: str
    name: str
    client: str
    vendor: str
    start: date
    end: date
    today: date
    phase: str  # not_started | start | execution | ended
    checklist_done: int
    checklist_total: int
    services: tuple[str, ...]
    budget_minutes: dict[str, int]
    hours_per_day: int
    client_people: int
    vendor_people: int
    chats: int
    budget_used: int  # minutes, all levels
    budget_contracted: int
    runs_out: date | None
    open_tickets: dict[str, int]  # severity -> open tickets
    awaiting_confirmation: int  # of the open tickets: resolved, not yet confirmed
    breached_tickets: tuple[str, ...]  # refs of open tickets running late


PHASES = {
    "not_started": ("未开始", "not started"),
    "start": ("1 服务启动", "1 start-up"),
    "execution": ("2 日常执行", "2 daily execution"),
    "ended": ("已结束", "ended"),
}


def overview_text(view: Overview, used_percent: str, locale: str) -> str:
    """The overview, line by line; `used_percent` is the share of the budget used (`42.5%`)."""
    days_total = (view.end - view.start).days + 1
    day = min(max((view.today - view.start).days + 1, 0), days_total)
    phase = tr(locale, PHASES[view.phase][0], PHASES[view.phase][1])
    contracted = sum(view.budget_minutes.values())
    levels = [
        f"{LEVELS[key].name(locale)} {format_person_days(minutes, view.hours_per_day)}"
        for key, minutes in view.budget_minutes.items()
        if minutes and key in LEVELS
    ]
    services = [SERVICES[key].name(locale) for key in view.services if key in SERVICES]
    unconfirmed = ""
    if view.awaiting_confirmation:
        unconfirmed = tr(locale, "，其中已解决·待确认 {n}", ", {n} resolved, awaiting confirmation",
                         n=view.awaiting_confirmation)  # fmt: skip
    lines = [
        f"{view.code} {view.name}",
        tr(locale, "甲方 {c} · 厂商 {v}", "Client {c} · vendor {v}", c=view.client, v=view.vendor),
        tr(locale, "周期 {s} → {e}（第 {d}/{t} 天）", "Term {s} → {e} (day {d} of {t})",
           s=view.start, e=view.end, d=day, t=days_total),
        tr(locale, "阶段：{p}（启动清单 {a}/{b}）", "Phase: {p} (onboarding checklist {a}/{b})",
           p=phase, a=view.checklist_done, b=view.checklist_total),
        tr(locale, "合同人天：{n}（{l}）", "Contracted person-days: {n} ({l})",
           n=format_person_days(contracted, view.hours_per_day), l=join(locale, levels) or "—"),
        tr(locale, "人天消耗：已用 {u} / {c}（{p}）{r}", "Person-days: {u} of {c} used ({p}){r}",
           u=format_person_days(view.budget_used, view.hours_per_day),
           c=format_person_days(view.budget_contracted, view.hours_per_day),
           p=used_percent,
           r=tr(locale, "，预计 {d} 用完", ", runs out {d}", d=view.runs_out) if view.runs_out else ""),
        tr(locale, "服务范围：{s}", "Services in scope: {s}", s=join(locale, services) or "—"),
        tr(locale, "人员：甲方 {c} 人，厂商 {v} 人；绑定群 {g} 个",
           "People: {c} client, {v} vendor; {g} bound chat(s)",
           c=view.client_people, v=view.vendor_people, g=view.chats),
        tr(locale, "未关闭工单 {n}（{s}）", "Open tickets: {n} ({s})", n=sum(view.open_tickets.values()),
           s=" · ".join(f"{k} {v}" for k, v in view.open_tickets.items())) + unconfirmed,
    ]  # fmt: skip
    if view.breached_tickets:
        lines.append(
            tr(
                locale,
                "🔴 已超时：{r}",
                "🔴 Breached: {r}",
                r=join(locale, list(view.breached_tickets)),
            )
        )
    return "\n".join(lines)
