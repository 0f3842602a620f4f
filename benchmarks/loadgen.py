"""The webhook benchmarks' load generator, run in a process of its own (`generate`): open loop
at a fixed rate, or closed loop with a fixed number of senders, over aiohttp.

Open loop: request i is due at start + i / rate whether or not earlier ones were answered, and
its latency counts from that due time, not from when it went out; a server that falls behind
shows it in the latency instead of slowing the generator down (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import aiohttp

Post = tuple[dict[str, str], bytes]  # headers, body


@dataclass
class Load:
    """What a run saw: the latencies (seconds) of the 200 answers, the others by status."""

    started: float  # time.monotonic() (system-wide on Linux) of the first due time
    ended: float  # of the last answer
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # status or error name -> count

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def rate(self) -> float:
        """Answers with 200 per second, over the whole run."""
        return self.answered / (self.ended - self.started) if self.ended > self.started else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nan with no answer)."""
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return (
            statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(p * 10) - 1]
            * 1000
        )


def generate(
    urls: list[str], requests: list[Post], *, rate: float = 0, concurrency: int = 0
) -> Load:
    """Send every request in a fresh process (the server's CPU is not ours): round-robin over
    `urls`, open loop at `rate` per second, or closed loop with `concurrency` senders."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_run, urls, requests, rate, concurrency).result()


def _run(urls: list[str], requests: list[Post], rate: float, concurrency: int) -> Load:
    return asyncio.run(_load(urls, requests, rate, concurrency))


async def _load(urls: list[str], requests: list[Post], rate: float, concurrency: int) -> Load:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        load = Load(time.monotonic() + 0.2, 0.0)

        async def send(index: int, due: float) -> None:
            headers, body = requests[index]
            try:
                async with session.post(urls[index % len(urls)], data=body,
                                        headers=headers) as response:  # fmt: skip
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                load.failures[type(error).__name__] += 1
                return
            done = time.monotonic()
            load.ended = max(load.ended, done)
            if status == 200:
                load.latencies.append(done - due)
            else:
                load.failures[str(status)] += 1

        if rate:
            tasks = []
            for index in range(len(requests)):
                due = load.started + index / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(send(index, due)))
            await asyncio.gather(*tasks)
        else:
            queue = iter(range(len(requests)))
            load.started = time.monotonic()

            async def sender() -> None:
                for index in queue:
                    await send(index, time.monotonic())

            await asyncio.gather(*(sender() for _ in range(concurrency)))
        return load
