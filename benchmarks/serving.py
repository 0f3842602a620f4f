"""Real `rentian serve` processes on one database, and Feishu callbacks built as Feishu builds
them (AES-encrypted, signed): what tests/test_scale_out.py and the webhook benchmarks share.

Every process gets its settings from the environment alone (`RENTIAN_*`, a fixed
`RENTIAN_NOW`), runs in a folder of its own (so no `config/rentian.toml` is picked up) and
logs to a file there; `Cluster` kills whatever it started, however the caller ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from Crypto.Cipher import AES
from sqlalchemy import Engine, inspect, text

from config.settings import DEMO_ENGAGEMENT

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK = "/webhooks/feishu"
ENCRYPT_KEY = "bench-encrypt-key"
TOKEN = "bench-verification-token"
CHAT = "oc_scale_group"
REPORTER = "ou_scale_reporter"  # not in the engagement: unregistered reporters may open tickets
SCHEDULER_LOCK = 0x52454E55  # bot.scheduler's advisory lock key


# -- Feishu callbacks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    """One Feishu message event; `signed` builds a delivery of it (each a fresh nonce, as a
    redelivery by Feishu is)."""

    event_id: str
    message_id: str
    title: str
    chat: str = CHAT

    def event(self) -> dict[str, Any]:
        return {
            "schema": "2.0",
            "header": {
                "event_id": self.event_id, "token": TOKEN, "create_time": "1764036000000",
                "event_type": "im.message.receive_v1", "tenant_key": "tk", "app_id": "cli_x",
            },
            "event": {
                "sender": {"sender_id": {"open_id": REPORTER, "user_id": "", "union_id": ""},
                           "sender_type": "user", "tenant_key": "tk"},
                "message": {
                    "message_id": self.message_id, "chat_id": self.chat, "chat_type": "group",
                    "message_type": "text", "create_time": "1764036000000",
                    "content": json.dumps({"text": f"/工单 P3 {self.title}"}), "mentions": [],
                },
            },
        }  # fmt: skip

    def signed(self, now: datetime) -> tuple[dict[str, str], bytes]:
        return sign(self.event(), now)


def ticket_callbacks(count: int, run: str = "", chats: int = 1) -> list[Callback]:
    """`count` distinct `/工单` events, spread round-robin over the first `chats` of
    `chat_ids`; each title names its event, to count tickets by it."""
    run, ids = run or uuid.uuid4().hex[:8], chat_ids(chats)
    return [
        Callback(f"ev_{run}_{n}", f"om_{run}_{n}", f"scale-{run}-{n}", ids[n % chats])
        for n in range(count)
    ]


def chat_ids(count: int) -> list[str]:
    """`CHAT`, then `CHAT_1`, `CHAT_2`…: the Feishu chats `prepare_database` binds."""
    return [CHAT, *(f"{CHAT}_{n}" for n in range(1, count))]


def encrypt(plaintext: bytes, key: str = ENCRYPT_KEY) -> str:
    """Feishu's: AES-256-CBC, key sha256(encrypt_key), random IV in front, PKCS7, base64."""
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    cipher = AES.new(hashlib.sha256(key.encode()).digest(), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(plaintext + bytes([pad]) * pad)).decode()


def sign(event: dict[str, Any], now: datetime) -> tuple[dict[str, str], bytes]:
    """Headers and body of a callback signed at `now` (the server checks a 5-minute window
    against its own clock: sign with the instances' `RENTIAN_NOW`)."""
    body = json.dumps({"encrypt": encrypt(json.dumps(event).encode())}).encode()
    timestamp, nonce = str(int(now.timestamp())), uuid.uuid4().hex[:16]
    signature = hashlib.sha256((timestamp + nonce + ENCRYPT_KEY).encode() + body).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": signature,
    }
    return headers, body


# -- the database and the environment ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(db: str, now: str, **settings: str) -> dict[str, str]:
    """This process's environment without any `RENTIAN_*` of the caller's, plus the database,
    the fixed clock and `settings` (names as in config/settings.py, e.g. OUTBOX__BATCH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTIAN_")}
    env.update(PYTHONPATH=str(ROOT), RENTIAN_DB=db, RENTIAN_NOW=now)
    env.update({f"RENTIAN_{name}": value for name, value in settings.items()})
    return env


def feishu_settings(app_id: str, app_secret: str, domain: str) -> dict[str, str]:
    """Feishu in webhook mode, encrypted, its API at `domain` (a fake's URL)."""
    return {
        "FEISHU__ENABLED": "true", "FEISHU__MODE": "webhook", "FEISHU__APP_ID": app_id,
        "FEISHU__APP_SECRET": app_secret, "FEISHU__ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU__VERIFICATION_TOKEN": TOKEN, "FEISHU__DOMAIN": domain,
    }  # fmt: skip


def prepare_database(env: Mapping[str, str], folder: Path, chats: int = 1) -> None:
    """`rentian init`, then the demo engagement with `chats` Feishu chats bound as well
    (`chat_ids`)."""
    engagement = folder / "engagement.toml"
    bindings = "".join(
        f'\n[[chats]]\nchannel = "feishu"\nid = "{chat}"\nname = "{chat}"\n'
        for chat in chat_ids(chats)
    )
    engagement.write_text(DEMO_ENGAGEMENT.read_text(encoding="utf-8") + bindings, encoding="utf-8")
    for command in (["init"], ["engagement", "apply", str(engagement)]):
        subprocess.run([sys.executable, "-m", "app", *command], env=dict(env), cwd=folder,
                       check=True, capture_output=True, timeout=120)  # fmt: skip


def with_name(db: str, name: str) -> str:
    """A PostgreSQL URL whose sessions carry `name` (pg_stat_activity.application_name)."""
    return f"{db}{'&' if '?' in db else '?'}application_name={name}" if "postgres" in db else db


def scheduler_holder(engine: Engine) -> str | None:
    """The application_name of the session holding the scheduler lock in this database (None:
    no one; pg_locks lists every database's)."""
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                 " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                 " AND l.objid = :key AND l.objsubid = 1 AND a.datname = current_database()"),
            {"key": SCHEDULER_LOCK},
        ).scalar()  # fmt: skip


# -- processes -----------------------------------------------------------------------------


@dataclass
class Instance:
    """One `rentian serve` process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """`kill -9`: no shutdown, no unlock, sockets closed by the kernel."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.TransportError:
            return None
        return dict(response.json()) if response.status_code == 200 else None

    def log_tail(self, lines: int = 30) -> str:
        text_ = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text_.splitlines()[-lines:])


@dataclass
class Cluster:
    """Instances started in `folder`; `close` (or leaving the `with`) kills every one."""

    folder: Path
    instances: list[Instance] = field(default_factory=list)

    def start(self, name: str, env: Mapping[str, str], *args: str) -> Instance:
        port = free_port()
        log = self.folder / f"{name}.log"
        env = {**env, "RENTIAN_DB": with_name(env["RENTIAN_DB"], name)}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(port), *args],
                env=env, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        instance = Instance(name, port, process, log)
        self.instances.append(instance)
        return instance

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for instance in self.instances:
            while instance.health() is None:
                if not instance.alive or time.monotonic() > deadline:
                    raise RuntimeError(f"{instance.name} did not start\n{instance.log_tail()}")
                time.sleep(0.1)

    @property
    def live(self) -> list[Instance]:
        return [instance for instance in self.instances if instance.alive]

    def logs(self) -> str:
        return "\n".join(instance.log_tail() for instance in self.instances)

    def close(self) -> None:
        for instance in self.instances:
            if instance.alive:
                instance.process.send_signal(signal.SIGKILL)
        for instance in self.instances:
            instance.process.wait(timeout=10)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def warm_up(url: str, now: datetime, count: int = 10) -> list[Callback]:
    """A few distinct events posted one by one: the first pay for lazy imports and connections
    (each opens a ticket of its own, titled "scale-warm…"). They are acknowledged, not yet
    handled: `wait_processed` them to know the handling side is warm too."""
    callbacks = ticket_callbacks(count, f"warm{uuid.uuid4().hex[:6]}")
    for callback in callbacks:
        headers, body = callback.signed(now)
        httpx.post(url, content=body, headers=headers, timeout=30).raise_for_status()
    return callbacks


# -- the end state -------------------------------------------------------------------------


def tickets_by_title(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT title, count(*) FROM ticket GROUP BY title"))
        return {str(title): int(count) for title, count in rows}


def inbox_waiting(engine: Engine) -> int:
    """Events accepted and not yet handled (0 where there is no inbox table): in the main
    database, or, on SQLite, in the inbox's own file next to it (`bot.inbox.inbox_engine`)."""
    from bot.inbox import inbox_engine

    with inbox_engine(engine).connect() as connection:
        if not inspect(connection).has_table("inbox_event"):
            return 0
        return int(connection.execute(text("SELECT count(*) FROM inbox_event")).scalar() or 0)


def wait_processed(engine: Engine, callbacks: list[Callback], timeout: float) -> float | None:
    """Poll until every callback has its ticket and the inbox is empty: when that was first
    seen (time.monotonic()), or None if not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    titles = {c.title for c in callbacks}
    while time.monotonic() < deadline:
        if not inbox_waiting(engine) and titles <= tickets_by_title(engine).keys():
            return time.monotonic()
        time.sleep(0.02)
    return None


def lost_and_duplicated(engine: Engine, callbacks: list[Callback]) -> tuple[int, int]:
    """Events with no ticket; tickets beyond the first of an event."""
    tickets = tickets_by_title(engine)
    lost = sum(1 for c in callbacks if c.title not in tickets)
    return lost, sum(max(0, tickets.get(c.title, 0) - 1) for c in callbacks)
