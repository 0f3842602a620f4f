"""`/工单` through the whole bus (dedupe key, ticket, SLA clock, audit, outbox, one commit) as
messages per second, next to a bare driver doing two inserts and a commit per transaction:
the floor any database-backed bot pays per message. Shared by the SQLite and PostgreSQL
benchmarks."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.common import Row, demo_runtime, fix_clock, interleaved, judged, say, timed


def ticket_rate(url: str, bare: Callable[[int], float], smoke: bool) -> tuple[float, float]:
    """Medians of (Rentian msg/s, bare tx/s), interleaved; `bare(n)` runs n transactions and
    returns the seconds they took."""
    fix_clock()
    runtime = demo_runtime(url)
    batch, repeats = (20, 3) if smoke else (300, 7)
    counter = iter(range(1_000_000))

    def ours() -> float:
        def send() -> None:
            for _ in range(batch):
                say(runtime, "liuyang", f"/工单 P3 报表导出超时 {next(counter)}")

        return batch / timed(send)

    def reference() -> float:
        return batch / bare(batch)

    say(runtime, "liuyang", "/工单 P3 预热")  # first-use imports and caches are not the figure
    bare(5)
    try:
        return interleaved(ours, reference, repeats)
    finally:
        runtime.engine.dispose()


def ticket_row(what: str, ours: float, theirs: float, name: str, target: str, smoke: bool) -> Row:
    ratio = ours / theirs
    return Row(what=what, rentian=ours, reference=theirs, unit="msg/s", reference_name=name,
               higher_is_better=True, target=target, met=judged(ratio, target, smoke))  # fmt: skip
