"""The chat commands of `handlers.knowledge`, as declared: importing this does not import the
handlers (nor jieba: each is imported when its command first runs)."""

from __future__ import annotations

from typing import Any

from bot.commands import Arg, Command, lazy
from domain.catalog import UNREGISTERED_REPORTER


def _run(name: str) -> Any:
    return lazy("handlers.knowledge", name)


ACTIONS = {
    "新增": "add", "添加": "add", "add": "add",
    "采纳": "adopt", "adopt": "adopt",
    "确认": "confirm", "confirm": "confirm",
}  # fmt: skip
VENDOR = frozenset({"vendor"})
CLIENT_SIDE = frozenset({"client", UNREGISTERED_REPORTER})

COMMANDS = [
    Command("ask", ("问", "提问"), ("在知识库中查找答案", "look for an answer in the knowledge base"),
            _run("ask"), args=(Arg("question", "text", ("问题", "QUESTION")),),
            roles=frozenset({"client", "vendor", UNREGISTERED_REPORTER}),
            example="/问 Hive 查询很慢怎么办", example_en="/ask why is my Hive query slow"),
    Command("kb", ("知识",), ("知识库：新增、采纳工单、确认", "knowledge base: add, adopt a ticket, confirm"),
            _run("kb_command"), roles=VENDOR,
            args=(Arg("action", "choice", ("新增|采纳|确认", "add|adopt|confirm"), choices=ACTIONS),
                  Arg("rest", "text", ("内容", "TEXT"))),
            example='/知识 新增 "VPN 断线" 重新登录客户端即可', example_en='/kb add "VPN drops" sign in again'),
    Command("answered", ("已解决",), ("知识库已解答，关闭工单", "close a ticket the knowledge base answered"),
            _run("answered"), roles=CLIENT_SIDE,
            args=(Arg("ticket", "ref", ("工单号", "TICKET"), prefixes=("T",)),
                  Arg("how", "text", ("知识库", "kb"), required=False)),
            example="/已解决 T-7 知识库", example_en="/answered T-7"),
]  # fmt: skip
