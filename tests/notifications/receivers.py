"""Real servers on loopback standing in for Slack, PagerDuty, Twilio, SMTP and the rest:
they record what they receive and answer as told."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


@dataclass
class Receiver:
    """An HTTP server that records requests; ``answer(...)`` queues the next replies,
    each ``(status, headers, body)`` or ``HANG`` (no answer until the test ends)."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    replies: deque = field(default_factory=deque)
    default: tuple = (200, {"Content-Type": "application/json"}, b'{"ok": true}')
    # Seconds each answer takes: a slow chat service.
    delay: float = 0.0

    def __post_init__(self):
        self.released = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *replies) -> None:
        self.replies.extend(replies)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    Received(
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                reply = receiver.replies.popleft() if receiver.replies else receiver.default
                if receiver.delay:
                    time.sleep(receiver.delay)
                if reply == HANG:
                    receiver.released.wait(30)
                    return
                status, headers, content = reply
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Go down: the port refuses connections until ``start()``."""
        self.released.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.released = threading.Event()


class SMTPReceiver:
    """aiosmtpd on loopback, keeping every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes

                receiver.messages.append((envelope, message_from_bytes(envelope.content)))
                return "250 Message accepted for delivery"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
