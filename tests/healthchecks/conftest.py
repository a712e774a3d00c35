"""Real servers on loopback stand in for the services being checked."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Server(ThreadingHTTPServer):
    """The stand-in service: what it was sent, and how it answers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict[str, Any]] = []
        self.slow_seconds = 1.0
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.ok_body = b"all systems operational"
        self.json_body: Any = {"status": "ok", "checks": {"db": True}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args):  # keep test output clean
        return

    def _answer(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.received.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        path = self.path.split("?", 1)[0]
        if path == "/slow":
            with server.lock:
                server.in_flight += 1
                server.most_in_flight = max(server.most_in_flight, server.in_flight)
            time.sleep(server.slow_seconds)
            with server.lock:
                server.in_flight -= 1
            return self._send(200, b"slow but fine")
        if path == "/wrong":
            return self._send(500, b"internal error")
        if path == "/json":
            return self._send(200, json.dumps(server.json_body).encode(), "application/json")
        if path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._send(200, server.ok_body)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = _answer


class LoopbackHTTP:
    def __init__(self):
        self.server = _Server()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def received(self) -> list[dict]:
        return self.server.received

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server():
    server = LoopbackHTTP()
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_endpoint(db):
    from healthchecks.models import ServiceEndpoint

    def make(name: str = "api", **fields) -> ServiceEndpoint:
        fields.setdefault("kind", "http")
        fields.setdefault("target", "http://127.0.0.1:9/")
        fields.setdefault("timeout_seconds", 5.0)
        return ServiceEndpoint.objects.create(name=name, **fields)

    return make


@pytest.fixture(autouse=True)
def _fresh_scheduler_memory():
    """The ticker's hints are per process; each test starts without them."""
    from healthchecks import apps

    apps._hint["until"] = 0.0
    apps._watched["at"] = 0.0
    yield
    apps._hint["until"] = 0.0
    apps._watched["at"] = 0.0
