"""Waiting for a thread to end, in a way that also works under libfaketime.

CI runs the suite with the clock moved by libfaketime, which moves the monotonic clock too;
Python's timed lock waits (`Thread.join(t)`, `Event.wait(t)`) hand the kernel a deadline on
that moved clock, so they never time out there: a thread that does not end would hang the run
instead of failing the test. `time.sleep` and `time.monotonic` stay right under libfaketime,
so this polls with them.
"""

from __future__ import annotations

import threading
import time


def join(thread: threading.Thread, seconds: float) -> bool:
    """Wait at most `seconds` for `thread` to end; whether it has."""
    deadline = time.monotonic() + seconds
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    return not thread.is_alive()
