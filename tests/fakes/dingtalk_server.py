"""A fake DingTalk open API on 127.0.0.1: `/v1.0/oauth2/accessToken` (tokens with an expiry),
the robot's `groupMessages/send` and `oToMessages/batchSend`, speaking DingTalk's JSON (errors
as HTTP 4xx/5xx with `{"code", "message"}`). It records every call and can answer the next
send with a refusal (e.g. a 429 rate limit) once.

The stream gateway too: `POST /v1.0/gateway/connections/open` answers a websocket endpoint
and ticket; the websocket server (websockets' threaded server) pushes CALLBACK frames with
`push()`, records the client's acks in `acks`, and can drop the connection with `drop()`."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import Server, ServerConnection, serve

from bot import clock
from tests import threads

TOKEN_PATH = "/v1.0/oauth2/accessToken"
GROUP_PATH = "/v1.0/robot/groupMessages/send"
DIRECT_PATH = "/v1.0/robot/oToMessages/batchSend"
GATEWAY_PATH = "/v1.0/gateway/connections/open"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"


@dataclass(frozen=True)
class Received:
    """One API call the fake answered: path, headers (lower-case) and JSON body."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeDingtalk:
    """Start with `start()`, point `api_base` at `url`, stop with `stop()`."""

    client_id: str = "ding-app"
    client_secret: str = "secret"
    robot_code: str = "ding-robot"
    expire_in: int = 7200
    calls: list[Received] = field(default_factory=list)
    token_requests: int = 0
    _tokens: set[str] = field(default_factory=set)
    _refusals: list[tuple[int, str, str]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    gateway_requests: list[dict[str, Any]] = field(default_factory=list)
    _tickets: set[str] = field(default_factory=set)
    _sockets: list[ServerConnection] = field(default_factory=list)
    _ws: Server | None = None
    _ws_thread: threading.Thread | None = None
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
        """The accepted and refused sends (everything but the token and the gateway)."""
        return [c for c in self.calls if c.path not in (TOKEN_PATH, GATEWAY_PATH)]

    def refuse_next(self, status: int, code: str, message: str) -> None:
        """The next send answers this HTTP status and error."""
        with self._lock:
            self._refusals.append((status, code, message))

    def start(self) -> FakeDingtalk:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-dingtalk", daemon=True
        )
        self._thread.start()
        self._ws = serve(self._socket, "127.0.0.1", 0)
        self._ws_thread = threading.Thread(target=self._ws.serve_forever, name="fake-dingtalk-ws",
                                           daemon=True)  # fmt: skip
        self._ws_thread.start()
        return self

    @property
    def connected(self) -> int:
        """How many stream connections are open now."""
        with self._lock:
            return len(self._sockets)

    def push(self, data: dict[str, Any], topic: str = ROBOT_TOPIC) -> str:
        """Send a CALLBACK frame to the connected stream client; its message id."""
        message_id = uuid.uuid4().hex
        frame = {"specVersion": "1.0", "type": "CALLBACK",
                 "headers": {"appId": self.client_id, "contentType": "application/json",
                             "messageId": message_id, "topic": topic,
                             "time": str(int(clock.now().timestamp() * 1000))},
                 "data": json.dumps(data, ensure_ascii=False)}  # fmt: skip
        with self._lock:
            socket = self._sockets[-1]
        socket.send(json.dumps(frame, ensure_ascii=False))
        return message_id

    def ping(self, opaque: str) -> str:
        """The gateway's SYSTEM ping, which a client answers with the same data; its id."""
        message_id = uuid.uuid4().hex
        data = json.dumps({"opaque": opaque})
        self.send_raw(json.dumps({"specVersion": "1.0", "type": "SYSTEM", "data": data,
                                  "headers": {"messageId": message_id, "topic": "ping",
                                              "contentType": "application/json"}}))  # fmt: skip
        return message_id

    def send_raw(self, text: str) -> None:
        """Send any text frame to the connected stream client."""
        with self._lock:
            socket = self._sockets[-1]
        socket.send(text)

    def drop(self) -> None:
        """Close every stream connection (as when DingTalk restarts a gateway)."""
        with self._lock:
            sockets = list(self._sockets)
        for socket in sockets:
            socket.close()

    def _socket(self, connection: ServerConnection) -> None:
        query = parse_qs(urlsplit(connection.request.path if connection.request else "").query)
        with self._lock:
            if query.get("ticket", [""])[0] not in self._tickets:
                connection.close(4001, "invalid ticket")
                return
            self._sockets.append(connection)
        try:
            for raw in connection:
                with self._lock:
                    self.acks.append(json.loads(raw))
        except Exception:  # closed abruptly
            pass
        finally:
            with self._lock:
                self._sockets.remove(connection)

    def stop(self) -> None:
        self.drop()
        if self._ws is not None:
            self._ws.shutdown()
        if self._ws_thread is not None:
            threads.join(self._ws_thread, 5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            threads.join(self._thread, 5)

    def answer(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """DingTalk's answer to one request (called from the server's threads)."""
        path = urlsplit(url).path
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return 400, {"code": "InvalidParameter", "message": "body is not JSON"}
        with self._lock:
            self.calls.append(Received(path, headers, data))
            if path == TOKEN_PATH:
                return self._token(data)
            if path == GATEWAY_PATH:
                return self._gateway(data)
            if path not in (GROUP_PATH, DIRECT_PATH):
                return 404, {"code": "NotFound", "message": "no such api"}
            return self._send(path, headers, data)

    def _token(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if data.get("appKey") != self.client_id or data.get("appSecret") != self.client_secret:
            return 400, {
                "code": "invalidClientIdOrSecret",
                "message": "无效的clientId或者clientSecret",
            }
        token = f"token-{self.token_requests}"
        self._tokens.add(token)
        return 200, {"accessToken": token, "expireIn": self.expire_in}

    def _gateway(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.gateway_requests.append(data)
        if data.get("clientId") != self.client_id or data.get("clientSecret") != self.client_secret:
            return 401, {"code": "InvalidAuthentication", "message": "clientId or clientSecret"}
        assert self._ws is not None
        host, port = self._ws.socket.getsockname()[:2]
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return 200, {"endpoint": f"ws://{host}:{port}/connect", "ticket": ticket}

    def _send(
        self, path: str, headers: dict[str, str], data: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("x-acs-dingtalk-access-token") not in self._tokens:
            return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
        if data.get("robotCode") != self.robot_code:
            return 400, {"code": "invalidParameter.robotCode", "message": "robotCode无效"}
        if self._refusals:
            status, code, message = self._refusals.pop(0)
            return status, {"code": code, "message": message}
        if path == DIRECT_PATH:
            return 200, {"processQueryKey": f"q{len(self.calls)}", "invalidStaffIdList": []}
        return 200, {"processQueryKey": f"q{len(self.calls)}"}


def _handler_for(fake: FakeDingtalk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.answer(self.path, headers, self.rfile.read(length))
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `fake.calls`."""

    return Handler
