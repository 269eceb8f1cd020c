"""A real HTTP webhook receiver for tests: http.server in a thread, with switchable failure modes."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conveyor.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status we replied with (0: we hung up without answering)
    at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def delivery_id(self) -> str:
        return self.headers[DELIVERY_HEADER.lower()]

    @property
    def job_id(self) -> str | None:
        return self.header("X-Conveyor-Job-Id")

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        return verify_signature(secret, self.header(TIMESTAMP_HEADER), self.body, self.header(SIGNATURE_HEADER))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """`mode`: "ok" (200), "error" (records the request, answers 503: the sender must retry and
    the receiver dedupes), "hang" (holds the request until `release()` or stop). `stop()` closes
    the port (connection refused); `start()` opens it again on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.mode = "ok"
        self.requests: list[Received] = []
        self.hanging = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def release(self) -> None:
        self._release.set()

    # -- requests ------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        mode = self.mode
        if mode == "hang":
            with self._lock:
                self.hanging += 1
            self._release.wait(60)
        status = 200 if mode in ("ok", "hang") else 503
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(Received(headers, body, status, time.monotonic()))
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def accepted(self) -> list[Received]:
        return [r for r in self.snapshot() if 200 <= r.answered < 300]

    def deduped(self) -> list[Received]:
        """Each delivery id once, at its first arrival (what a deduping receiver processes)."""
        seen: set[str] = set()
        out = []
        for r in self.snapshot():
            if r.delivery_id not in seen:
                seen.add(r.delivery_id)
                out.append(r)
        return out

    def for_job(self, job_id: str, requests: list[Received] | None = None) -> list[Received]:
        return [r for r in (self.deduped() if requests is None else requests) if r.job_id == job_id]
