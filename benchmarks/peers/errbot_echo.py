"""Run inside the peers' venv: errbot's own message path on its built-in `!echo`, no network.

Errbot's test backend (`errbot.backends.test`, what its own tests use) with `BOT_ASYNC` off,
so `callback_message` runs the command in the caller's thread and the timing holds no
thread hand-off: a `Message` in, the reply popped from the backend's outgoing queue.
Prints {"version", "us_per_msg"} as JSON; argv[1] is how many messages to time.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from errbot.backends.base import Message  # type: ignore[import-not-found]
from errbot.backends.test import QUIT_MESSAGE, TestBot  # type: ignore[import-not-found]
from errbot.version import VERSION  # type: ignore[import-not-found]


def _echo(bot: Any, text: str) -> str:
    message = Message(f"!echo {text}")
    message.frm = bot.sender
    message.to = bot.bot_identifier
    bot.callback_message(message)
    reply: str = bot.pop_message(block=False)
    return reply


def main() -> None:
    count = int(sys.argv[1])
    harness = TestBot(loglevel=logging.ERROR, extra_config={"BOT_ASYNC": False})
    harness.start()
    logging.disable(logging.CRITICAL)
    try:
        bot = harness.bot
        for n in range(50):  # warm-up
            _echo(bot, f"热身 {n}")
        start = time.perf_counter()
        for n in range(count):
            last = _echo(bot, f"你好 {n}")
        seconds = time.perf_counter() - start
        assert last == f"你好 {count - 1}", last
    finally:  # not `harness.stop()`: it closes a thread pool that BOT_ASYNC=False never made
        harness.bot.push_message(QUIT_MESSAGE)
        harness.bot_thread.join(timeout=10)
    print(json.dumps({"version": VERSION, "us_per_msg": seconds / count * 1e6}))


if __name__ == "__main__":
    main()
