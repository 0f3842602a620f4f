"""The handling side of `rentian serve`: the inbox workers, the outbox dispatcher and the
scheduler (docs/architecture.md, "Intake").

With `[intake] process = "separate"` (the default) they run in a worker process of their own
(`rentian worker`), which the serving process starts, wakes and supervises (`WorkerProcess`):
the serving process only verifies, decrypts and accepts, so an acknowledgement never waits for
the GIL behind command handling. With "inline" they run in the serving process itself.

The serving process holds the write end of the worker's stdin, and writes one byte per wake:
`i` (an event was accepted into the inbox) or `o` (something was committed to the outbox).
End of file on that pipe — the serving process stopped, or died — stops the worker cleanly, as
SIGTERM does; each inbox worker finishes its batch. A worker that dies is started again: what
it had not handled waits in the inbox, and the new one handles it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from adapters.console import ConsoleSender
from app.channels import load
from app.runtime import Runtime, from_args
from bot.channels import ChannelAdapter, Sender
from bot.dispatcher import Dispatcher
from bot.inbox import Inbox
from bot.scheduler import Scheduler

log = logging.getLogger("rentian.worker")
STOP_TIMEOUT_SECONDS = 15.0
WAKE_INBOX, WAKE_OUTBOX = b"i", b"o"
WORKER_NICENESS = 10  # added to the worker process's nice value (lower CPU priority)
RESTART_PAUSE_SECONDS = 1.0  # before starting again a worker that died young
_YOUNG_SECONDS = 5.0  # a worker that dies sooner than this after its start "died young"


def channel_adapters(runtime: Runtime) -> list[ChannelAdapter]:
    """The adapters of the enabled channels but the console (imported now)."""
    names = runtime.settings.enabled_channels()
    return [load(name, runtime.settings) for name in names if name != "console"]


def senders(adapters: list[ChannelAdapter]) -> dict[str, Sender]:
    return {"console": ConsoleSender(), **{a.name: a.sender() for a in adapters}}


@asynccontextmanager
async def handling(
    runtime: Runtime, inbox: Inbox, adapters: list[ChannelAdapter], *, scheduler: bool
) -> AsyncIterator[Dispatcher]:
    """The inbox workers, the dispatcher (woken by the bus's commits) and, if `scheduler`, the
    scheduler, running on this event loop until the block ends; then each inbox worker finishes
    its batch, the scheduler its round, the dispatcher its send."""
    loop = asyncio.get_running_loop()
    dispatcher = Dispatcher(runtime.engine, senders(adapters), runtime.settings.outbox)

    def wake() -> None:  # called from the bus's worker threads
        loop.call_soon_threadsafe(dispatcher.wake)

    runtime.bus.on_commit = wake
    task = asyncio.create_task(dispatcher.run(), name="rentian-dispatcher")
    inbox.start()  # what an earlier run accepted and did not handle goes first
    jobs = (
        Scheduler(runtime.engine, runtime.jobs, runtime.vocabulary,
                  leader_poll_seconds=runtime.settings.scheduler.leader_poll_seconds)
        if scheduler
        else None
    )  # fmt: skip
    if jobs:
        jobs.start()
    try:
        yield dispatcher
    finally:
        await asyncio.to_thread(inbox.stop, STOP_TIMEOUT_SECONDS)
        if jobs:
            jobs.shutdown()
        dispatcher.stop()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("dispatcher did not stop in time; unsent rows stay pending")
        runtime.bus.on_commit = None


# -- the serving process's side ------------------------------------------------------------


class WorkerProcess:
    """The worker process, seen from the serving process: `start` it, `wake_inbox` /
    `wake_outbox` it (safe from any thread), `alive` for `/healthz`, `stop` it. Should it die
    while not asked to stop, a supervising thread starts it again.

    It runs `python -m app worker` with this process's environment and folder: the same
    settings and database (`rentian serve` puts its `--db`/`--now` into the environment)."""

    def __init__(self, *, scheduler: bool = True) -> None:
        self.scheduler = scheduler
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self._supervisor: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    @property
    def alive(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            self._process = self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="rentian-worker-watch",
                                            daemon=True)  # fmt: skip
        self._supervisor.start()

    def wake_inbox(self) -> None:
        self._write(WAKE_INBOX)

    def wake_outbox(self) -> None:
        self._write(WAKE_OUTBOX)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS * 2) -> None:
        """Close its pipe (it stops as on SIGTERM: each inbox worker ends its batch) and wait
        for it; one that does not end within `timeout` seconds is killed."""
        with self._lock:
            self._stopping = True
            process = self._process
            if process is not None:
                _close(process)
        if process is not None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in time; killed", process.pid)
                process.kill()
                process.wait()
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "app", "worker"]
        if not self.scheduler:
            command.append("--no-scheduler")
        # stdout and stderr are this process's: its log is the server's log.
        process = subprocess.Popen(command, stdin=subprocess.PIPE)
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)  # a wake never blocks an acknowledgement
        log.info("worker process %d started", process.pid)
        return process

    def _supervise(self) -> None:
        """Wait for the worker to end; unless asked to stop, start it again."""
        while True:
            with self._lock:
                process = self._process
            if process is None:
                return
            started = time.monotonic()
            status = process.wait()
            with self._lock:
                _close(process)
            if time.monotonic() - started < _YOUNG_SECONDS and not self._stopping:
                time.sleep(RESTART_PAUSE_SECONDS)  # do not spin on a worker that cannot start
            with self._lock:
                if self._stopping:
                    return
                log.warning("worker process %d ended (status %s); starting it again",
                            process.pid, status)  # fmt: skip
                self.restarts += 1
                self._process = self._spawn()

    def _write(self, signal_byte: bytes) -> None:
        # Under the lock: the pipe is closed under it too, so its descriptor is never one
        # the process has since opened for something else.
        with self._lock:
            process = self._process
            if process is None or process.stdin is None or process.stdin.closed:
                return
            try:
                os.write(process.stdin.fileno(), signal_byte)
            except BlockingIOError:  # the pipe is full of wakes not read yet: awake already
                pass
            except OSError:  # it died: the supervisor starts another, which looks anyway
                pass


def _close(process: subprocess.Popen[bytes]) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:  # pragma: no cover - a close of a pipe whose reader went
        pass


# -- the worker process ----------------------------------------------------------------------


def command(args: argparse.Namespace) -> int:
    """`rentian worker`: what `rentian serve` starts (never run by hand)."""
    runtime = from_args(args)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    # The server's acknowledgements come first: on a busy machine the CPU goes to them, and
    # the commands take what is left (the backlog waits in the inbox meanwhile).
    os.nice(WORKER_NICENESS)
    asyncio.run(serve_worker(runtime, scheduler=not args.no_scheduler))
    return 0


async def serve_worker(runtime: Runtime, *, scheduler: bool, wakes: int = 0) -> None:
    """Handle until the pipe on stdin (`wakes`, a file descriptor) ends or SIGTERM comes."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    adapters = channel_adapters(runtime)
    inbox = Inbox(runtime.engine, runtime.bus, runtime.settings.intake)
    async with handling(runtime, inbox, adapters, scheduler=scheduler) as dispatcher:
        reader = threading.Thread(
            target=_read_wakes, name="rentian-worker-wakes", daemon=True,
            args=(wakes, inbox.wake, lambda: loop.call_soon_threadsafe(dispatcher.wake),
                  lambda: loop.call_soon_threadsafe(stop.set)),
        )  # fmt: skip
        reader.start()
        log.info("worker process %d handling (%d inbox workers)", os.getpid(),
                 runtime.settings.intake.workers)  # fmt: skip
        await stop.wait()
        log.info("worker process %d stopping", os.getpid())
    loop.remove_signal_handler(signal.SIGTERM)


def _read_wakes(
    fd: int, inbox: Callable[[], None], outbox: Callable[[], None], ended: Callable[[], None]
) -> None:
    """Wake the inbox or the dispatcher for each byte read; at the end of the pipe (the
    serving process stopped or died), stop."""
    try:
        while chunk := os.read(fd, 256):
            if WAKE_INBOX in chunk:
                inbox()
            if WAKE_OUTBOX in chunk:
                outbox()
    except OSError as error:  # pragma: no cover - stdin closed under us
        log.warning("worker: reading the wake pipe failed: %s", error)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop has ended already (SIGTERM)
            ended()
