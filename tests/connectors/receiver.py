"""A real HTTP receiver on 127.0.0.1 for the webhook tests, like a processor's endpoint.

It checks every signature itself, and can be told to be down, to fail the first N calls,
to answer 202 with or without a status URL, or to say "pending" for the first polls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from integritet.connectors.webhook import verify_signature


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool


@dataclass
class Receiver:
    secret: str
    calls: list[Call] = field(default_factory=list)
    fail_first: int = 0
    is_down: Callable[[], bool] = lambda: False
    mode: str = "ok"  # ok | accept (202, callback) | poll (202 + status URL)
    pending_polls: int = 0
    extra_headers: dict[str, str] = field(default_factory=dict)
    fail_status: int = 503
    url: str = ""

    def posts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST"]

    def answer(self, call: Call) -> tuple[int, dict[str, Any] | None]:
        self.calls.append(call)
        if not call.signed:
            return 401, {"error": "bad signature"}
        if self.is_down():
            return self.fail_status, None
        if call.method == "GET":
            if self.pending_polls > 0:
                self.pending_polls -= 1
                return 200, {"status": "pending"}
            return 200, {"status": "done"}
        if self.fail_first > 0:
            self.fail_first -= 1
            return self.fail_status, None
        if self.mode == "accept":
            return 202, None
        if self.mode == "poll":
            return 202, {"status_url": "/status/" + call.headers["idempotency-key"]}
        return 200, {"status": "done"}


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            signed = verify_signature(receiver.secret, body, headers.get("x-integritet-signature"))
            code, data = receiver.answer(Call(method, self.path, headers, body, signed))
            payload = json.dumps(data).encode() if data is not None else b""
            self.send_response(code)
            for name, value in receiver.extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self._handle("POST")

        def do_GET(self) -> None:
            self._handle("GET")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Server:
    """Run a :class:`Receiver` in a thread; ``close`` stops it and frees the port."""

    def __init__(self, receiver: Receiver) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(receiver))
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        receiver.url = f"http://{host!s}:{port}/erase"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
