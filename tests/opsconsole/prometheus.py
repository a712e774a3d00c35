"""Prometheus for tests: a canned loopback server, and Debian's real binaries
(``prometheus``, ``promtool``, ``prometheus-alertmanager``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.loopback import QuietHandler, write_json

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

# CI installs the binaries and sets this: a test that would skip for want of one fails
# there instead, so a broken install step cannot pass as a green run.
REQUIRE_ENV = "OPSCONSOLE_REQUIRE_PROMETHEUS"
# "9190-9199": the servers' ports are taken from this range (a shared machine gives
# each developer one); unset, any free port.
PORTS_ENV = "OPSCONSOLE_TEST_PORTS"


def require_binaries(**binaries: str | None) -> None:
    """Skip the test when one of these binaries is absent, or fail it under CI."""
    missing = sorted(name for name, path in binaries.items() if path is None)
    if not missing:
        return
    message = (
        f"not installed: {', '.join(missing)} (apt-get install prometheus prometheus-alertmanager)"
    )
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message}; {REQUIRE_ENV} is set, so this is a failure", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    first, _, last = os.environ.get(PORTS_ENV, "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in {PORTS_ENV}={os.environ[PORTS_ENV]}")


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
    with _running(
        "prometheus",
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            *args,
        ],
        f"http://127.0.0.1:{port}",
    ) as url:
        yield url


@contextlib.contextmanager
def running_alertmanager(config: Path, data: Path) -> Iterator[str]:
    """A real Alertmanager on a free loopback port, its clustering off (no gossip port,
    no peers): yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _running(
        "alertmanager",
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
        ],
        url,
    ) as url:
        yield url


@contextlib.contextmanager
def _running(name: str, command: list, url: str) -> Iterator[str]:
    # Its log goes to a file (a pipe nobody reads would fill and stop the server), read
    # back when it does not start.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not _ready(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} did not become ready on {url}:\n{tail}")
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
