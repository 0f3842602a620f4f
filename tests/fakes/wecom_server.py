"""A fake WeChat Work API on 127.0.0.1: `gettoken` (tokens with an expiry), `message/send`,
`appchat/send` and the group robot's `webhook/send`, speaking WeCom's JSON (`errcode`,
`errmsg`). It records every call, and can expire the token once (42001) or refuse a call."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests import threads

TOKEN_PATH = "/cgi-bin/gettoken"
MESSAGE_PATH = "/cgi-bin/message/send"
APPCHAT_PATH = "/cgi-bin/appchat/send"
WEBHOOK_PATH = "/cgi-bin/webhook/send"


@dataclass(frozen=True)
class Received:
    """One API call the fake answered: path, query and JSON body."""

    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeWecom:
    """Start with `start()`, point `api_base` at `url`, stop with `stop()`."""

    corp_id: str = "ww_fake"
    secret: str = "secret"
    appchats: set[str] = field(default_factory=set)
    webhook_keys: set[str] = field(default_factory=set)
    expires_in: int = 7200
    calls: list[Received] = field(default_factory=list)
    token_requests: int = 0
    _token: str = ""
    _expirations: int = 0
    _refusals: list[tuple[int, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def sends(self) -> list[Received]:
        """The accepted and refused sends (everything but gettoken)."""
        return [c for c in self.calls if c.path != TOKEN_PATH]

    def expire_token_once(self, times: int = 1) -> None:
        """The next `times` API calls answer 42001, and the token in use stops working."""
        with self._lock:
            self._expirations = times

    def refuse_next(self, code: int, msg: str) -> None:
        with self._lock:
            self._refusals.append((code, msg))

    def start(self) -> FakeWecom:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-wecom", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            threads.join(self._thread, 5)

    def answer(self, url: str, body: bytes) -> dict[str, Any]:
        """WeCom's answer to one request (called from the server's threads)."""
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        with self._lock:
            self.calls.append(Received(parts.path, query, data))
            if parts.path == TOKEN_PATH:
                return self._gettoken(query)
            if parts.path == WEBHOOK_PATH:
                return self._webhook(query)
            if parts.path not in (MESSAGE_PATH, APPCHAT_PATH):
                return {"errcode": 404, "errmsg": "no such api"}
            return self._send(parts.path, query, data)

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        self.token_requests += 1
        if query.get("corpid") != self.corp_id or query.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        self._token = f"token-{self.token_requests}"
        return {"errcode": 0, "errmsg": "ok", "access_token": self._token,
                "expires_in": self.expires_in}  # fmt: skip

    def _webhook(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("key") not in self.webhook_keys:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        return self._refusal() or {"errcode": 0, "errmsg": "ok"}

    def _send(self, path: str, query: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        if self._expirations > 0:
            self._expirations, self._token = self._expirations - 1, "expired"
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if not self._token or query.get("access_token") != self._token:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if path == APPCHAT_PATH and data.get("chatid") not in self.appchats:
            return {"errcode": 86003, "errmsg": "chatid not found"}
        return self._refusal() or {"errcode": 0, "errmsg": "ok", "msgid": f"m{len(self.calls)}"}

    def _refusal(self) -> dict[str, Any] | None:
        if not self._refusals:
            return None
        code, msg = self._refusals.pop(0)
        return {"errcode": code, "errmsg": msg}


def _handler_for(fake: FakeWecom) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(fake.answer(self.path, b""))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._reply(fake.answer(self.path, self.rfile.read(length)))

        def _reply(self, answer: dict[str, Any]) -> None:
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)  # WeCom answers errors with 200 and an errcode
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `fake.calls`."""

    return Handler
