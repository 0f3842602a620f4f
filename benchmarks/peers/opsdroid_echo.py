"""Run inside the peers' venv: opsdroid's own message path on an echo skill, no network.

A `Message` from a connector whose `send` only keeps the text goes through `OpsDroid.parse`
(constraints, `parse_regex` ranking, the skill, `respond`), as opsdroid's own tests drive it.
Prints {"version", "us_per_msg"} as JSON; argv[1] is how many messages to time.
"""

from __future__ import annotations

import asyncio
import gettext
import json
import logging
import sys
import time
from typing import Any

import opsdroid  # type: ignore[import-not-found]
from opsdroid.connector import Connector  # type: ignore[import-not-found]
from opsdroid.core import OpsDroid  # type: ignore[import-not-found]
from opsdroid.events import Message  # type: ignore[import-not-found]
from opsdroid.matchers import match_regex  # type: ignore[import-not-found]


class _Keep(Connector):  # type: ignore[misc]
    """A connector that keeps what it is asked to send."""

    def __init__(self, bot: Any) -> None:
        super().__init__({"name": "bench"}, opsdroid=bot)
        self.sent: list[str] = []

    async def send(self, event: Any) -> None:
        self.sent.append(event.text)


@match_regex(r"^echo (?P<text>.*)$")  # type: ignore[untyped-decorator]
async def echo(bot: Any, config: Any, message: Any) -> None:
    await message.respond(message.entities["text"]["value"])


def _message(text: str, connector: Any) -> Any:
    return Message(
        text, user_id="bench-user", user="bench", target="bench-room", connector=connector
    )


async def _measure(bot: Any, count: int) -> float:
    connector = _Keep(bot)
    bot.connectors = [connector]
    bot.register_skill(echo, config={"name": "echo"})
    for n in range(50):  # warm-up
        await bot.parse(_message(f"echo 热身 {n}", connector))
    start = time.perf_counter()
    for n in range(count):
        await bot.parse(_message(f"echo 你好 {n}", connector))
    seconds = time.perf_counter() - start
    assert connector.sent[-1] == f"你好 {count - 1}", connector.sent[-1:]
    return seconds


def main() -> None:
    gettext.install("opsdroid")  # as `opsdroid start` does: its modules call `_()`
    count = int(sys.argv[1])
    logging.disable(logging.CRITICAL)
    with OpsDroid() as bot:
        seconds = bot.eventloop.run_until_complete(_measure(bot, count))
    print(json.dumps({"version": opsdroid.__version__, "us_per_msg": seconds / count * 1e6}))


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
