"""How recurring obligations read in a chat: the list, the notices, the replies. Text only."""

from __future__ import annotations

from datetime import date

from bot.i18n import tr
from domain import obligations as rules
from storage.models_obligations import ObligationOccurrence

STATES = {
    rules.OPEN: ("待完成", "open"),
    rules.SUBMITTED: ("待甲方确认", "awaiting the client's acknowledgement"),
    rules.DONE: ("已完成", "done"),
}


def state_name(state: str, locale: str) -> str:
    zh, en = STATES.get(state, (state, state))
    return tr(locale, zh, en)


def named(occ: ObligationOccurrence, title: str, locale: str) -> str:
    """`O-3「月度系统健康检查」（截止 2026-12-01）`."""
    return tr(locale, "{r}「{t}」（截止 {d}）", "{r} '{t}' (due {d})", r=occ.ref, t=title,
              d=occ.due_on.isoformat())  # fmt: skip


def line(occ: ObligationOccurrence, title: str, locale: str) -> str:
    extra = ""
    if occ.state != rules.OPEN:
        extra = f" · {state_name(occ.state, locale)}"
    elif occ.window_start_at is not None:
        extra = f" · {window_state(occ, locale)}"
    if occ.evidence_link:
        extra += f" · {occ.evidence_link}"
    return f"• {named(occ, title, locale)}{extra}"


def listing(sections: list[tuple[str, list[str]]], locale: str) -> str:
    parts = [tr(locale, "📅 定期义务", "📅 Recurring obligations")]
    for head, lines in sections:
        if lines:
            parts.append(f"{head}（{len(lines)}）" if locale != "en" else f"{head} ({len(lines)})")
            parts.extend(lines)
    if len(parts) == 1:
        parts.append(tr(locale, "近期没有到期的义务。", "Nothing due soon."))
    parts.append(
        tr(locale, "完成：/义务 完成 O-n 链接 备注", "Record: /obligations done O-n LINK NOTE")
    )
    return "\n".join(parts)


def heads(locale: str) -> tuple[str, str, str, str]:
    """The list's sections: overdue, due today, upcoming, recently done."""
    return (tr(locale, "🔴 已逾期", "🔴 Overdue"), tr(locale, "🟠 今日到期", "🟠 Due today"),
            tr(locale, "🗓 即将到期", "🗓 Upcoming"), tr(locale, "✅ 最近完成", "✅ Recently done"))  # fmt: skip


def none_configured(locale: str) -> str:
    return tr(locale, "本项目文件没有定期义务（[[obligations]]）。",
              "The engagement file lists no recurring obligations ([[obligations]]).")  # fmt: skip


def reminder(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "⏰ {c} 定期义务即将到期：{n}。完成后发送 /义务 完成 {r} 链接 备注",
              "⏰ {c}: a recurring obligation is coming due: {n}. When done, send "
              "/obligations done {r} LINK NOTE", c=code, n=named(occ, title, locale), r=occ.ref)  # fmt: skip


def overdue(occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "🔴 定期义务已逾期：{n}，尚未提交完成证明。",
              "🔴 A recurring obligation is overdue: {n}, with no evidence recorded yet.",
              n=named(occ, title, locale))  # fmt: skip


def escalation(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    if occ.state == rules.SUBMITTED:
        return tr(locale, "🚨 {c} 定期义务 {n} 已提交，宽限期已过仍未获甲方确认。",
                  "🚨 {c}: obligation {n} was submitted, but the client has not acknowledged "
                  "it and the grace period is over.", c=code, n=named(occ, title, locale))  # fmt: skip
    return tr(locale, "🚨 {c} 定期义务 {n} 宽限期已过仍未完成，请跟进。",
              "🚨 {c}: obligation {n} is past its grace period and still not done: please "
              "follow up.", c=code, n=named(occ, title, locale))  # fmt: skip


def done(occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(
        locale, "✅ 已记录 {n} 完成。", "✅ {n} recorded as done.", n=named(occ, title, locale)
    )


def submitted(occ: ObligationOccurrence, title: str, digest: str, locale: str) -> str:
    return tr(locale, "📨 已提交 {n} 的完成证明，待甲方审批人确认（/义务 确认 {r}）。内容摘要 {h}",
              "📨 Evidence for {n} submitted; awaiting the client approver's acknowledgement "
              "(/obligations ack {r}). Content hash {h}", n=named(occ, title, locale),
              r=occ.ref, h=digest[:16])  # fmt: skip


def ask_ack(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    link = f"：{occ.evidence_link}" if occ.evidence_link else ""
    return tr(locale, "{c} 定期义务 {n} 已完成{l}\n确认：/义务 确认 {r}",
              "{c}: obligation {n} is done{l}\nAcknowledge: /obligations ack {r}", c=code,
              n=named(occ, title, locale), l=link if locale != "en" else link.replace("：", ": "),
              r=occ.ref)  # fmt: skip


def acknowledged(who: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "✅ {w} 已确认 {n}。内容摘要 {h}", "✅ {w} acknowledged {n}. Content hash {h}",
              w=who, n=named(occ, title, locale), h=(occ.content_hash or "")[:16])  # fmt: skip


def summary(overdue: int, overdue_refs: list[str], soon: int, on_time: int, late: int,
            missed: int, since: date, locale: str) -> list[str]:  # fmt: skip
    lines = []
    if overdue or soon:
        lines.append(tr(locale, "定期义务：逾期 {o} 项{r}，7 天内到期 {s} 项",
                        "Recurring obligations: {o} overdue{r}, {s} due within 7 days",
                        o=overdue, s=soon,
                        r=f"（{'、'.join(overdue_refs[:5])}）" if locale != "en" and overdue_refs
                        else (f" ({', '.join(overdue_refs[:5])})" if overdue_refs else "")))  # fmt: skip
    if on_time or late or missed:
        lines.append(tr(locale, "义务履约（{d} 起）：按时 {a}，迟交 {b}，未完成 {c}",
                        "Obligations met since {d}: {a} on time, {b} late, {c} missed",
                        d=since.isoformat(), a=on_time, b=late, c=missed))  # fmt: skip
    return lines


# -- upgrade windows --------------------------------------------------------------------------


def window_state(occ: ObligationOccurrence, locale: str) -> str:
    """Where an open window stands: no plan yet, awaiting signatures, signed, blocked."""
    if occ.blocked_at is not None:
        return tr(locale, "未获签署，不得进行", "not signed: may not run")
    if occ.approved_at is not None:
        return tr(locale, "双方已签署", "signed by both parties")
    if occ.plan_link is None:
        return tr(locale, "待提交方案", "plan awaited")
    return tr(locale, "方案待双方签署", "plan awaiting signatures")


def window_reminder(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    if occ.plan_link is None:
        return tr(locale, "⏰ {c} 升级窗口 {n} 即将到来：请提交升级方案（含回退方案）/义务 方案 {r} 链接 说明，"
                  "并在开始前由双方签署（/义务 签署 {r}）。",
                  "⏰ {c}: upgrade window {n} is coming: record its plan (with the rollback) with "
                  "/obligations plan {r} LINK NOTE, and have both parties sign it before it starts "
                  "(/obligations sign {r}).", c=code, n=named(occ, title, locale), r=occ.ref)  # fmt: skip
    return tr(locale, "⏰ {c} 升级窗口 {n} 即将到来，方案尚未获双方签署（/义务 签署 {r}）。",
              "⏰ {c}: upgrade window {n} is coming and its plan is not yet signed by both "
              "parties (/obligations sign {r}).", c=code, n=named(occ, title, locale), r=occ.ref)  # fmt: skip


def planned(occ: ObligationOccurrence, title: str, voided: int, locale: str) -> str:
    again = tr(locale, "此前的 {v} 个签署已作废。", "{v} earlier signature(s) voided. ", v=voided)
    return tr(locale, "📝 已记录 {n} 的升级方案：{l}\n{a}开始前需厂商项目经理和甲方审批人签署：/义务 签署 {r}（内容摘要 {h}）",
              "📝 Plan recorded for {n}: {l}\n{a}The vendor PM and the client approver sign it before "
              "the start: /obligations sign {r} (content hash {h})", n=named(occ, title, locale),
              l=occ.plan_link, a=again if voided else "", r=occ.ref, h=(occ.window_hash or "")[:16])  # fmt: skip


def ask_sign(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "✍️ {c} 升级窗口 {n} 待签署。方案：{l}\n签署：/义务 签署 {r}",
              "✍️ {c}: upgrade window {n} awaits your signature. Plan: {l}\nSign: /obligations sign {r}",
              c=code, n=named(occ, title, locale), l=occ.plan_link or "-", r=occ.ref)  # fmt: skip


def signed_waiting(occ: ObligationOccurrence, title: str, awaited: str, locale: str) -> str:
    return tr(locale, "✍️ 已签署升级窗口 {n}，还需 {w} 签署。", "✍️ Signed upgrade window {n}; {w} still has to sign.",
              n=named(occ, title, locale), w=awaited)  # fmt: skip


def approved(occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "✅ 升级窗口 {n} 已获双方签署，可按方案进行。内容摘要 {h}",
              "✅ Upgrade window {n} is signed by both parties and may run as planned. Content hash {h}",
              n=named(occ, title, locale), h=(occ.window_hash or "")[:16])  # fmt: skip


def window_notice(notice: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    """The chat's notice at a signed window's start, or at its end."""
    if notice == rules.START:
        return tr(locale, "🔧 升级窗口 {n} 现在开始，按已签署的方案进行：{l}",
                  "🔧 Upgrade window {n} begins now, as signed: {l}", n=named(occ, title, locale),
                  l=occ.plan_link or "-")  # fmt: skip
    return tr(locale, "🏁 升级窗口 {n} 已结束：厂商提交结果（/义务 完成 {r} 链接 备注），甲方审批人确认（/义务 确认 {r}）。",
              "🏁 Upgrade window {n} is over: the vendor records the result (/obligations done {r} "
              "LINK NOTE) and the client approver confirms it (/obligations ack {r}).",
              n=named(occ, title, locale), r=occ.ref)  # fmt: skip


def window_result(code: str, occ: ObligationOccurrence, title: str, locale: str) -> str:
    return tr(locale, "{c} 升级窗口 {n} 已结束，请提交结果：/义务 完成 {r} 链接 备注",
              "{c}: upgrade window {n} is over; record its result: /obligations done {r} LINK NOTE",
              c=code, n=named(occ, title, locale), r=occ.ref)  # fmt: skip


def blocked(occ: ObligationOccurrence, title: str, missing: str, locale: str) -> str:
    return tr(locale, "⛔ 升级窗口 {n} 开始前未获双方签署（缺：{w}）：不得进行变更。",
              "⛔ Upgrade window {n} was not signed by both parties before its start (missing: {w}): "
              "no change may be made.", n=named(occ, title, locale), w=missing)  # fmt: skip
