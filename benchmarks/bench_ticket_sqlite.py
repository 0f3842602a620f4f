"""`/工单` in-process on a SQLite file vs bare `sqlite3` (WAL, the same `synchronous`, two
inserts per transaction): target ratio ≥ 0.20."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from benchmarks.common import Row, scratch
from benchmarks.ticket_rate import ticket_rate, ticket_row


def run(smoke: bool) -> list[Row]:
    with scratch() as folder:
        bare = _Bare(folder / "bare.db")
        ours, theirs = ticket_rate(f"sqlite:///{folder / 'rentian.db'}", bare, smoke)
        return [
            ticket_row(
                "/工单 in-process, SQLite file",
                ours,
                theirs,
                "bare sqlite3, WAL, 2 inserts/tx",
                "≥ 0.20",
                smoke,
            )
        ]


class _Bare:
    """Two inserts and a commit per transaction, with storage.db's pragmas."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE ticket (id INTEGER PRIMARY KEY, title TEXT, at TEXT)")
        self.db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, ticket INT, text TEXT)")
        self.n = 0

    def __call__(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.n += 1
            self.db.execute("BEGIN")
            cursor = self.db.execute(
                "INSERT INTO ticket (title, at) VALUES (?, ?)", (f"报表导出超时 {self.n}", "now")
            )
            self.db.execute(
                "INSERT INTO outbox (ticket, text) VALUES (?, ?)", (cursor.lastrowid, "已登记")
            )
            self.db.execute("COMMIT")
        return time.perf_counter() - start
