"""What recorded events are called in a chat: every code written to the audit log or a ticket's
history (`cr.filed`, `ticket.acked`, `sla.warning`) as a (Chinese, English) label.

Histories render through `event`, `clock` and `sla_alert`, never the code itself.
"""

from __future__ import annotations

import logging
from typing import Final

from bot.i18n import tr

log = logging.getLogger("rentian.labels")

# A ticket's history stores the bare kind (`acked`); its code here is `ticket.<kind>`, as in
# the audit log. An SLA alert stores `sla.<stage> <clock>` as the text of a `ticket.alert`.
EVENTS: Final[dict[str, tuple[str, str]]] = {
    # the engagement and its start-up
    "engagement.created": ("创建项目", "engagement created"),
    "engagement.updated": ("更新项目", "engagement updated"),
    "chat.bound": ("绑定群聊", "chat bound"),
    "checklist.done": ("完成启动清单项", "checklist item done"),
    "phase.changed": ("进入新阶段", "phase changed"),
    "sync.settings": ("修改进度同步", "progress sync changed"),
    # scope and plan
    "task.added": ("新增任务", "task added"),
    "task.edited": ("修改任务", "task edited"),
    "task.done": ("完成任务", "task done"),
    "scope.signed": ("签署范围", "scope signed"),
    "scope.baselined": ("范围基线生效", "scope baselined"),
    "plan.delay": ("延期预警", "delay notice"),
    # change requests
    "cr.filed": ("提出变更", "filed"),
    "cr.estimated": ("评估", "estimated"),
    "cr.signatures_voided": ("重新评估，原签署作废", "re-estimated, signatures voided"),
    "cr.signed": ("签署", "signed"),
    "cr.effective": ("生效", "came into effect"),
    "cr.rejected": ("驳回", "rejected"),
    # tickets
    "ticket.opened": ("开单", "opened"),
    "ticket.acked": ("响应", "acknowledged"),
    "ticket.assigned": ("指派", "assigned"),
    "ticket.pending": ("挂起", "paused"),
    "ticket.resumed": ("恢复", "resumed"),
    "ticket.note": ("备注", "note"),
    "ticket.resolved": ("解决", "resolved"),
    "ticket.closed": ("关闭", "closed"),
    "ticket.reopened": ("重开", "reopened"),
    "ticket.alert": ("SLA 告警", "SLA alert"),
    "sla.warning": ("即将超时", "about to breach"),
    "sla.breach": ("已超时", "breached"),
    "sla.escalation": ("超时升级", "escalated"),
    # blockers, person-days, delivery, the monthly close
    "blocker.opened": ("登记阻塞", "blocker recorded"),
    "blocker.cleared": ("解除阻塞", "blocker cleared"),
    "worklog.logged": ("报工", "work logged"),
    "worklog.undone": ("撤销报工", "work log undone"),
    "worklog.adjusted": ("调整报工", "work log adjusted"),
    "delivery.submitted": ("提交交付物", "deliverable submitted"),
    "delivery.accepted": ("验收", "accepted"),
    "delivery.rejected": ("驳回交付物", "deliverable rejected"),
    "training.recorded": ("记录培训", "training recorded"),
    "period.closed": ("关闭月度结算", "month closed"),
    "period.locked": ("确认并锁定月度结算", "month confirmed and locked"),
    "period.reopened": ("重开月度结算", "month reopened"),
    # the SOW's recurring obligations
    "obligation.submitted": ("提交义务完成证明", "obligation evidence submitted"),
    "obligation.done": ("义务已完成", "obligation done"),
    "obligation.acknowledged": ("甲方确认义务完成", "obligation acknowledged by the client"),
    "obligation.remind": ("提醒义务到期", "obligation reminder"),
    "obligation.overdue": ("义务逾期", "obligation overdue"),
    "obligation.escalate": ("义务升级处理", "obligation escalated"),
    "obligation.plan": ("提交升级窗口方案", "upgrade window plan recorded"),
    "obligation.window_signed": ("签署升级窗口", "upgrade window signed"),
    "obligation.window_approved": ("升级窗口获双方签署", "upgrade window signed by both parties"),
    "obligation.start": ("升级窗口开始", "upgrade window began"),
    "obligation.blocked": ("升级窗口未获签署", "upgrade window blocked, unsigned"),
    "obligation.end": ("升级窗口结束", "upgrade window ended"),
    # the knowledge base
    "kb.added": ("新增知识库文章", "knowledge article added"),
    "kb.drafted": ("从工单起草知识库文章", "knowledge article drafted from a ticket"),
    "kb.confirmed": ("发布知识库文章", "knowledge article published"),
}

# The two SLA clocks (legs) of a ticket.
CLOCKS: Final[dict[str, tuple[str, str]]] = {
    "response": ("首次响应", "first response"),
    "resolve": ("解决", "resolution"),
}

# What a code nobody labelled reads as: neutral, and never the code.
UNKNOWN: Final = ("记录", "event")


def event(code: str, locale: str) -> str:
    """The label of an event code in `locale`."""
    if code not in EVENTS:
        log.warning("event code %r has no label; add it to handlers/labels.py", code)
    return tr(locale, *EVENTS.get(code, UNKNOWN))


def clock(leg: str, locale: str) -> str:
    return tr(locale, *CLOCKS.get(leg, UNKNOWN))


def sla_alert(text: str, locale: str) -> str:
    """A stored alert (`sla.warning response`) as words: `首次响应即将超时`."""
    code, _, leg = text.partition(" ")
    return tr(locale, "{leg}{stage}", "{leg} {stage}", leg=clock(leg, locale),
              stage=event(code, locale))  # fmt: skip
