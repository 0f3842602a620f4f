"""How change requests read in a chat: status, estimate, the card with its signatures and
history, the list. Text only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.durations import format_person_days
from bot.i18n import tr
from domain import labels
from domain.catalog import LEVELS
from domain.lifecycles.change_requests import REJECTED
from storage.models import AuditEntry, ChangeRequest, Person, Signature

STATUS = {"filed": ("待评估", "filed"), "estimated": ("待签署", "awaiting signatures"),
          "effective": ("已生效", "effective"), "rejected": ("已驳回", "rejected")}  # fmt: skip


def status_name(status: str, locale: str) -> str:
    return tr(locale, *STATUS[status])


def estimate_text(estimate: dict[str, int], locale: str, hours_per_day: int) -> str:
    """`高级工程师 3, 中级工程师 2，合计 5 人天`."""
    parts = [f"{LEVELS[k].name(locale)} {format_person_days(v, hours_per_day)}"
             for k, v in estimate.items() if v]  # fmt: skip
    total = format_person_days(sum(estimate.values()), hours_per_day)
    return tr(
        locale,
        "{p}，合计 {t} 人天",
        "{p}; {t} person-days in all",
        p=", ".join(parts) or "—",
        t=total,
    )


def voided_text(cr: ChangeRequest, before: dict[str, int], locale: str, hours_per_day: int) -> str:
    """To each earlier signer: the estimate changed, with the diff."""
    return tr(locale, "{r} 的评估已修改：{a} → {b}。你之前的签署已作废，请重新确认。",
              "{r}'s estimate changed: {a} → {b}. Your earlier signature is void; please review again.",
              r=cr.ref, a=estimate_text(before, locale, hours_per_day),
              b=estimate_text(cr.estimate, locale, hours_per_day))  # fmt: skip


def voided_reply(diff: str, locale: str) -> str:
    """The same diff as the PM's reply: no longer addressed to one signer."""
    return diff.replace(tr(locale, "你之前的签署", "Your earlier signature"),
                        tr(locale, "之前的签署", "Earlier signatures"))  # fmt: skip


def card(
    cr: ChangeRequest,
    filer: Person | None,
    signed: list[tuple[Signature, Person | None]],
    entries: list[AuditEntry],
    names: dict[str, str],
    locale: str,
    hours_per_day: int,
    when: Callable[[datetime], str],
) -> str:
    """`/cr CR-n`: what was filed, the estimate, who signed, why it was rejected, its history.
    `when` shows a time for people (`Context.when`)."""
    lines = [f"{cr.ref}「{cr.title}」· {status_name(cr.status, locale)}" if locale != "en"
             else f"{cr.ref} '{cr.title}' · {status_name(cr.status, locale)}",
             tr(locale, "提出：{n} {t}", "Filed by {n} at {t}", n=filer.name if filer else "?", t=when(cr.filed_at))]  # fmt: skip
    if cr.description:
        lines.append(cr.description)
    if cr.estimate:
        lines.append(tr(locale, "评估 v{v}：{e}", "Estimate v{v}: {e}", v=cr.estimate_version,
                        e=estimate_text(cr.estimate, locale, hours_per_day)))  # fmt: skip
    for signature, signer in signed:
        lines.append(tr(locale, "✍️ {n} 签署于 {t}", "✍️ signed by {n} at {t}",
                        n=signer.name if signer else "?", t=when(signature.at)))  # fmt: skip
    if cr.status == REJECTED:
        lines.append(tr(locale, "驳回原因：{r}", "Rejected: {r}", r=cr.rejected_reason))
    lines.append(tr(locale, "记录：", "History:"))
    lines += [f"  {when(e.at)} {names.get(e.actor, e.actor)} {labels.event(e.action, locale)}"
              for e in entries]  # fmt: skip
    return "\n".join(lines)


def list_line(cr: ChangeRequest, locale: str, hours_per_day: int) -> str:
    estimate = format_person_days(sum(cr.estimate.values()), hours_per_day) if cr.estimate else "—"
    return f"{cr.ref} {status_name(cr.status, locale)} · {estimate} · {cr.title}"
