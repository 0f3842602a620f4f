"""A fake Feishu open platform on 127.0.0.1: the tenant token and the message send and reply
endpoints, speaking Feishu's JSON; it records what it received and can be told to refuse.
Its long-connection gateway (`/callback/ws/endpoint` and a websocket speaking the SDK's own
protobuf `Frame`) pushes events and records the client's acks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.sync.server import Server, ServerConnection, serve

from tests import threads

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
WS_ENDPOINT_PATH = "/callback/ws/endpoint"
DATA_FRAME = 1  # lark_oapi.ws.enum.FrameType.DATA


@dataclass(frozen=True)
class Received:
    """One send the fake accepted or refused: path, query, body and the bearer token."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    token: str


@dataclass
class FakeFeishu:
    """Start with `start()`, point the SDK at `url`, stop with `stop()`."""

    app_id: str = "cli_fake"
    app_secret: str = "secret"
    sends: list[Received] = field(default_factory=list)
    refusals: list[tuple[int, int, str]] = field(default_factory=list)  # (http, code, msg)
    token_requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    acks: list[tuple[str, int]] = field(default_factory=list)  # (message_id, code)
    connections_opened: int = 0
    _ws: Server | None = None
    _ws_thread: threading.Thread | None = None
    _conns: list[ServerConnection] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def connected(self) -> bool:
        """Whether a long-connection client is connected now."""
        with self._lock:
            return bool(self._conns)

    def refuse_next(self, code: int, msg: str, http_status: int = 200) -> None:
        """Answer the next message call with this error code (once)."""
        with self._lock:
            self.refusals.append((http_status, code, msg))

    def start(self) -> FakeFeishu:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-feishu", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._ws is not None:
            self._ws.shutdown()
            for conn in list(self._conns):
                conn.close()
        if self._ws_thread is not None:
            threads.join(self._ws_thread, 5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            threads.join(self._thread, 5)

    # -- the long-connection gateway --

    def start_gateway(self) -> None:
        self._ws = serve(self._serve_connection, "127.0.0.1", 0, compression=None)
        self._ws_thread = threading.Thread(
            target=self._ws.serve_forever, name="fake-feishu-ws", daemon=True
        )
        self._ws_thread.start()

    def push_event(self, event: dict[str, Any], message_id: str) -> None:
        """Send an event as Feishu does: a DATA frame with the JSON event as payload."""
        frame = Frame(SeqID=0, LogID=0, service=1, method=DATA_FRAME)
        headers = {"type": "event", "message_id": message_id, "trace_id": "tr", "sum": "1",
                   "seq": "0"}  # fmt: skip
        for key, value in headers.items():
            header = frame.headers.add()
            header.key, header.value = key, value
        frame.payload = json.dumps(event).encode()
        with self._lock:
            conn = self._conns[-1]
        conn.send(frame.SerializeToString())

    def drop_connection(self) -> None:
        """Close the client's connection from our side, as a gateway restart would."""
        with self._lock:
            conn = self._conns[-1]
        conn.close()

    def _serve_connection(self, conn: ServerConnection) -> None:
        with self._lock:
            self._conns.append(conn)
            self.connections_opened += 1
        try:
            for data in conn:
                frame = Frame()
                frame.ParseFromString(data if isinstance(data, bytes) else data.encode())
                if frame.method != DATA_FRAME:
                    continue  # pings
                message_id = next(h.value for h in frame.headers if h.key == "message_id")
                with self._lock:
                    self.acks.append((message_id, int(json.loads(frame.payload)["code"])))
        finally:
            with self._lock:
                self._conns.remove(conn)

    def _endpoint(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if data.get("AppID") != self.app_id or data.get("AppSecret") != self.app_secret:
            return 200, {"code": 1000040343, "msg": "invalid app"}
        assert self._ws is not None
        port = self._ws.socket.getsockname()[1]
        config = {"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0,
                  "PingInterval": 120}  # fmt: skip
        url = f"ws://127.0.0.1:{port}/ws?device_id=d1&service_id=1"
        return 200, {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}

    def answer(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Feishu's answer to one request (called from the server's threads)."""
        parts = urlsplit(url)
        data = json.loads(body or b"{}")
        if parts.path == TOKEN_PATH:
            return self._token(data)
        if parts.path == WS_ENDPOINT_PATH:
            return self._endpoint(data)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token != self._token_value():
            return 400, {"code": 99991663, "msg": "Invalid access token for authorization."}
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.sends.append(Received(method, parts.path, query, data, token))
            refusal = self.refusals.pop(0) if self.refusals else None
        if refusal is not None:
            status, code, msg = refusal
            return status, {"code": code, "msg": msg, "data": {}}
        message_id = f"om_sent_{len(self.sends)}"
        return 200, {"code": 0, "msg": "success", "data": {"message_id": message_id}}

    def _token(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests += 1
        if data.get("app_id") != self.app_id or data.get("app_secret") != self.app_secret:
            return 200, {"code": 10014, "msg": "app secret invalid"}
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": self._token_value(),
                     "expire": 7200}  # fmt: skip

    def _token_value(self) -> str:
        return f"t-{self.app_id}"


def _handler_for(fake: FakeFeishu) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = fake.answer("POST", self.path, headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read `fake.sends`."""

    return Handler
