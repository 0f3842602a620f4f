"""/看板 (/dashboard): a one-time link that signs the sender in to the web console.

The link goes to the sender directly — never into a group, where anyone could take it — on
the channel and account the command came from, so it reaches whoever owns that account even
when someone else typed the command (or forged an email's sender). It is single use, expires
after `console.link_minutes`, and an account may ask for `console.links_per_hour` an hour.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.commands import Parsed
from bot.context import Context
from bot.message import ChatType, Target
from config.settings import ConsoleSettings, Settings
from storage import signin

SIGNIN_PATH = "/signin/"


@dataclass(frozen=True)
class LinkSettings:
    url: str  # the console's address, no trailing slash
    minutes: int
    per_hour: int

    @classmethod
    def of(cls, settings: Settings | None) -> LinkSettings:
        console = settings.console if settings is not None else ConsoleSettings()
        url = settings.console_url() if settings is not None else "http://127.0.0.1:8080"
        return cls(url, console.link_minutes, console.links_per_hour)


def link(url: str, token: str) -> str:
    return f"{url}{SIGNIN_PATH}{token}"


def dashboard(ctx: Context, cmd: Parsed) -> None:
    assert ctx.inbound is not None and ctx.actor is not None
    inbound = ctx.inbound
    limits = LinkSettings.of(ctx.vocabulary.settings)
    account = signin.Account(inbound.channel, inbound.sender_id)
    token = signin.issue_link(ctx.session, account, now=ctx.now, minutes=limits.minutes,
                              per_hour=limits.per_hour)  # fmt: skip
    if token is None:
        ctx.reply(ctx.tr(
            "一小时内已发出 {n} 个登录链接，请稍后再试；已发出的链接在有效期内仍可使用。",
            "{n} sign-in links were sent in the last hour; try again later (those sent still work "
            "until they expire).", n=limits.per_hour,
        ), "console.refused")  # fmt: skip
        return
    text = ctx.tr(
        "看板登录链接（{m} 分钟内有效，仅可使用一次，请勿转发）：\n{link}",
        "Your console sign-in link (valid for {m} minutes, once; do not forward it):\n{link}",
        m=limits.minutes, link=link(limits.url, token),
    )  # fmt: skip
    if inbound.chat_type == ChatType.DIRECT:
        ctx.reply(text, "console.link")
        return
    ctx.post(Target.direct(inbound.channel, inbound.sender_id, person=ctx.actor.key), text,
             "console.link")  # fmt: skip
    ctx.reply(ctx.tr("看板登录链接已私信发送给你（{m} 分钟内有效）。",
                     "I sent you the console sign-in link directly (valid for {m} minutes).",
                     m=limits.minutes), "console.sent")  # fmt: skip
