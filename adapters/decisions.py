"""The outbox rows that ask someone to decide, and the answers a platform offers as buttons.

A button carries the command it runs; the platform sends it back as said by the person who
clicked, so it runs with their permissions like any typed command. Feishu and DingTalk show
every answer; WeCom's cards show the first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Button:
    label_zh: str
    label_en: str
    command_zh: str  # with `{ref}` for the row's reference
    command_en: str
    style: str  # Feishu's button type: "primary" or "danger"

    def label(self, english: bool) -> str:
        return self.label_en if english else self.label_zh

    def command(self, ref: str, english: bool) -> str:
        return (self.command_en if english else self.command_zh).format(ref=ref)


@dataclass(frozen=True)
class Decision:
    title_zh: str
    title_en: str
    buttons: tuple[Button, ...]

    def title(self, ref: str, english: bool) -> str:
        return f"{self.title_en if english else self.title_zh} {ref}"


_REJECT = Button("驳回", "Reject", "/驳回 {ref} 卡片驳回", "/reject {ref} rejected from the card",
                 "danger")  # fmt: skip
DECISIONS: dict[str, Decision] = {
    "cr.estimated": Decision("变更单待签署", "Change request to sign", (
        Button("签署", "Sign", "/签署 {ref}", "/sign {ref}", "primary"), _REJECT,
    )),
    "delivery.submitted": Decision("交付物待验收", "Deliverable to accept", (
        Button("验收", "Accept", "/验收 {ref}", "/accept {ref}", "primary"), _REJECT,
    )),
    "sla.breach": Decision("SLA 超时", "SLA breach", (
        Button("响应", "Acknowledge", "/响应 {ref}", "/ack {ref}", "primary"),
    )),
    # a client's new ticket the knowledge base may answer: the reporter closes it as answered
    "ticket.suggested": Decision("知识库或可解答", "The knowledge base may answer", (
        Button("已解决（知识库）", "Answered", "/已解决 {ref} 知识库", "/answered {ref}", "primary"),
    )),
    "obligation.ask_ack": Decision("定期义务待确认", "Obligation to acknowledge", (
        Button("确认", "Acknowledge", "/义务 确认 {ref}", "/obligations ack {ref}", "primary"),
    )),
    # an upgrade window: the vendor PM and the client approver both sign before its start
    "obligation.sign": Decision("升级窗口待签署", "Upgrade window to sign", (
        Button("签署", "Sign", "/义务 签署 {ref}", "/obligations sign {ref}", "primary"),
    )),
}  # fmt: skip


def decision(kind: str, ref: str) -> Decision | None:
    """The decision a row asks for; None for a row of another kind or without a reference."""
    return DECISIONS.get(kind) if ref else None
