"""An `echo` command in Rentian next to the same echo in opsdroid 0.31 and errbot 6.2, each
through its own message path in-process, no network.

Two figures of ours: the full bus on a SQLite file (dedupe key, engagement and person
lookups, parse, permission, handler, outbox row, commit), and its in-memory part alone
(clean, parse, permission, handler) — the peers keep nothing, so the second is the like-for-
like one: target ≤ 10 µs and ≥ 5x faster than opsdroid (ratio ≤ 0.20).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path

from adapters import console
from app.commands import all_commands
from app.runtime import vocabulary
from benchmarks import peers
from benchmarks.common import Row, Unavailable, demo_runtime, fix_clock, scratch, timed
from bot import clock, intake
from bot.assurance import permits
from bot.bus import Bus
from bot.commands import Arg, Command, MessageContext, Parsed
from bot.context import Actor, Context
from bot.registry import Registry

TARGET_US = 10.0
TARGET_RATIO = 0.20


def _echo(ctx: Context, parsed: Parsed) -> None:
    ctx.reply(parsed.arg("text"), "echo")


# Declared here, not in the app: a benchmark's command, added to a registry of its own.
ECHO = Command(
    name="echo",
    aliases=("回声",),
    summary=("原样回复", "say it back"),
    handler=_echo,
    args=(Arg("text", "text", ("内容", "TEXT")),),
    roles=frozenset({"client_member"}),
)


def run(smoke: bool) -> list[Row]:
    fix_clock()
    repeats = 1 if smoke else 5
    bus_n, memory_n, peer_n = (20, 2000, 200) if smoke else (500, 50_000, 5000)
    with scratch() as folder:
        full_bus = _full_bus(f"sqlite:///{folder / 'rentian.db'}")
        in_memory = _in_memory()
        samples: dict[str, list[float]] = {"bus": [], "memory": [], "opsdroid": [], "errbot": []}
        pythons, skipped, versions = _peers(smoke)
        for _ in range(repeats):  # interleaved: each round measures every side once
            samples["bus"].append(timed(lambda: full_bus(bus_n)) / bus_n * 1e6)
            samples["memory"].append(timed(lambda: in_memory(memory_n)) / memory_n * 1e6)
            for peer, python in list(pythons.items()):
                try:
                    us, versions[peer] = peers.echo_us(peer, python, peer_n)
                except Unavailable as reason:
                    skipped[peer] = str(reason)
                    del pythons[peer]
                    continue
                samples[peer].append(us)
    median = {k: statistics.median(v) if v else math.nan for k, v in samples.items()}
    return _rows(median, skipped, versions, smoke)


def _peers(smoke: bool) -> tuple[dict[str, Path], dict[str, str], dict[str, str]]:
    """Each peer's venv python, or why it is skipped; and a place for their versions."""
    pythons: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for peer in peers.REQUIREMENTS:
        try:
            pythons[peer] = peers.ensure(peer, pip_timeout=10 if smoke else 60)
        except Unavailable as reason:
            skipped[peer] = str(reason)
    return pythons, skipped, {}


def _rows(
    us: dict[str, float], skipped: dict[str, str], versions: dict[str, str], smoke: bool
) -> list[Row]:
    rows = []
    for peer in peers.REQUIREMENTS:
        name = f"{peer} {versions.get(peer, '')}".strip()
        note = f"skipped: {skipped[peer]}" if peer in skipped else ""
        rows.append(
            Row(what=f"echo, full bus on SQLite (vs {peer})", rentian=us["bus"],
                reference=us[peer], unit="µs/msg", reference_name=f"{name}, in-memory",
                higher_is_better=False, target="", met=None,
                note=note or "no target: the peers keep nothing, ours commits each message")
        )  # fmt: skip
    for peer in peers.REQUIREMENTS:
        name = f"{peer} {versions.get(peer, '')}".strip()
        ratio = us["memory"] / us[peer]
        judged = peer == "opsdroid" and not smoke and not math.isnan(ratio)
        met = (us["memory"] <= TARGET_US and ratio <= TARGET_RATIO) if judged else None
        target = f"≤ {TARGET_RATIO:.2f} and ≤ {TARGET_US:g} µs" if peer == "opsdroid" else ""
        rows.append(
            Row(what=f"echo, in-memory part (vs {peer})", rentian=us["memory"],
                reference=us[peer], unit="µs/msg", reference_name=name,
                higher_is_better=False, target=target, met=met,
                note=f"skipped: {skipped[peer]}" if peer in skipped else "")
        )  # fmt: skip
    return rows


def _full_bus(url: str) -> Callable[[int], None]:
    """Send n echoes through a bus that knows ECHO, on the demo engagement."""
    runtime = demo_runtime(url)
    bus = Bus(runtime.engine, Registry([*all_commands(), ECHO]), runtime.settings.bot.names,
              vocabulary=vocabulary())  # fmt: skip
    counter = iter(range(10**9))

    def send(n: int) -> None:
        for _ in range(n):
            text = f"/回声 你好 {next(counter)}"
            outcome = bus.handle(console.parse("demo-group", "liuyang", text, now=clock.now()))
            assert outcome.replies and outcome.replies[0].text.startswith("你好"), outcome

    send(5)  # warm-up
    return send


def _in_memory() -> Callable[[int], None]:
    """Handle n echoes as the bus does before and after the database: clean, parse, check
    the sender may, and the handler's answer."""
    registry = Registry([*all_commands(), ECHO])
    actor = Actor("liu.yang", "刘洋", "client", frozenset({"client_member"}))
    where = MessageContext(locale="zh-CN")
    now = clock.now()

    def one(text: str) -> str:
        inbound = intake.clean(console.parse("demo-group", "liuyang", text, now=now))
        parsed = registry.parse(inbound.text, where)
        assert parsed is not None
        if not (permits(inbound.assurance, parsed.command.needs) and actor.may(parsed.command)):
            raise AssertionError("liuyang may echo")
        return str(parsed.arg("text"))

    def handle(n: int) -> None:
        for i in range(n):
            one(f"/回声 你好 {i}")

    handle(100)  # warm-up
    return handle
