"""Prometheus for tests: a canned loopback server, and Debian's real binaries."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.loopback import QuietHandler, write_json

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakePrometheus:
    """Answers /api/v1/query and /api/v1/query_range with canned JSON; records requests.

    ``answer`` is a (status, body) pair, or a function of the query's parameters that
    returns one; ``delay`` holds every answer back that many seconds.
    """

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.answer = (200, {"status": "success", "data": {}})
        self.delay = 0.0
        fake = self

        class Handler(QuietHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, params))
                if fake.delay:
                    time.sleep(fake.delay)
                answer = fake.answer(params) if callable(fake.answer) else fake.answer
                write_json(self, *answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def scrape_config(target: str, token: str | None = None) -> str:
    """The README's scrape job for a console at ``target`` (host:port), scraping every
    second; with the bearer token when ``METRICS_TOKEN`` is set."""
    auth = f"    authorization: {{credentials: {token}}}\n" if token else ""
    return (
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: opsconsole\n"
        "    metrics_path: /metrics\n"
        f"{auth}"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )


@contextlib.contextmanager
def running_prometheus(config: Path, data: Path, *args: str) -> Iterator[str]:
    """A real Prometheus on a free loopback port, ready to answer: yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not become ready on {url}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
