"""Real mail servers on loopback for the email tests: Dovecot (IMAP, with IDLE) started from a
config written into a temp dir, and an aiosmtpd SMTP server delivering into its Maildirs.

`mail_servers(users)` is a context manager; the tests skip when Dovecot is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MAIL_UID = 65534  # Dovecot's userdb maps every mailbox to nobody
SKIP_REASON = "email: Dovecot is not installed (apt-get install dovecot-imapd)"
PASSWORD = "secret"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{d}/mail/%d/%n/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
  default_fields = uid={uid} gid={uid} home={d}/mail/%d/%n
}}
"""


def skip_reason() -> str | None:
    """Why the servers cannot run here, in one line; None when they can."""
    if shutil.which("dovecot") is None:
        return SKIP_REASON
    if os.geteuid() != 0:
        return "email: the Dovecot test servers start as root (they drop to dovenull/nobody)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailServers:
    root: Path
    imap_port: int
    smtp_port: int
    dovecot: subprocess.Popen[bytes] | None = None

    def restart_imap(self) -> None:
        """Drop every IMAP connection (kill Dovecot) and start it again on the same port."""
        assert self.dovecot is not None
        _stop(self.dovecot)
        self.dovecot = _start_dovecot(self.root / "dovecot.conf", self.root, self.imap_port)

    def maildir(self, address: str) -> Path:
        local, _, domain = address.lower().partition("@")
        return self.root / "mail" / domain / local / "Maildir"

    def deliver(self, address: str, raw: bytes) -> None:
        """Drop one message into `address`'s INBOX the way an MDA does (tmp/, then new/)."""
        box = self.maildir(address)
        for sub in ("tmp", "new", "cur"):
            _make_owned(box / sub)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.rentian-test"
        temporary = box / "tmp" / name
        temporary.write_bytes(raw)
        os.chown(temporary, MAIL_UID, MAIL_UID)
        temporary.rename(box / "new" / name)


def _make_owned(path: Path) -> None:
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for made in missing:
        os.chown(made, MAIL_UID, MAIL_UID)


class _Delivery:
    """aiosmtpd handler: every accepted recipient gets a copy in its Maildir."""

    def __init__(self, servers: MailServers, users: set[str]) -> None:
        self.servers = servers
        self.users = users

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        if address.lower() not in self.users:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            self.servers.deliver(address, bytes(envelope.original_content or envelope.content))
        return "250 OK delivered"


@contextmanager
def mail_servers(users: list[str]) -> Iterator[MailServers]:
    """Dovecot and an SMTP server on free loopback ports, with these mailboxes (password
    `PASSWORD`); both are stopped on exit."""
    root = Path(tempfile.mkdtemp(prefix="rt-mail-"))  # short: Dovecot's sockets live here
    root.chmod(0o755)
    servers = MailServers(root, free_port(), free_port())
    (root / "users").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    (root / "mail").mkdir()
    os.chown(root / "mail", MAIL_UID, MAIL_UID)
    for user in users:
        _make_owned(servers.maildir(user) / "new")
    config = root / "dovecot.conf"
    config.write_text(CONFIG.format(d=root, uid=MAIL_UID, port=servers.imap_port))
    servers.dovecot = _start_dovecot(config, root, servers.imap_port)
    smtp = Controller(_Delivery(servers, {u.lower() for u in users}), hostname="127.0.0.1",
                      port=servers.smtp_port)  # fmt: skip
    smtp.start()
    try:
        yield servers
    finally:
        smtp.stop()
        if servers.dovecot is not None:
            _stop(servers.dovecot)
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # A test server keeps nothing worth a graceful stop, and Dovecot's master waits ~5 s for
    # its IDLE clients before it exits on SIGTERM: kill its whole process group at once.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def _start_dovecot(config: Path, root: Path, port: int) -> subprocess.Popen[bytes]:
    out = (root / "fg.out").open("ab")
    # Dovecot is a real server with a real clock: under libfaketime (the CI's any-instant runs)
    # it would inherit the faked clock through LD_PRELOAD and then hang when stopped.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
    process = subprocess.Popen(
        ["dovecot", "-F", "-c", str(config)], stdin=subprocess.DEVNULL, stdout=out,
        stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    out.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    log = (root / "fg.out").read_text(errors="replace") + _read(root / "dovecot.log")
    raise RuntimeError(f"Dovecot did not start on port {port}:\n{log}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
