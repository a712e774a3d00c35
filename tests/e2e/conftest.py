"""Browser tests run the real console (``manage.py serve``: daphne, q2 workers, the
delivery lane, the ticker, the SQLite channel layer) in a temporary directory, and
Debian's chromium.

With ``E2E_DATABASE_URL`` and ``E2E_REDIS_URL`` set, the same tests run the console in
production mode instead: PostgreSQL (that database is made afresh) and Redis (that
database is emptied) for the channel layer, the cache and the broker.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "e2e-admin-password"
SCREENSHOTS = ROOT / "var" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _production_mode() -> dict[str, str]:
    """DATABASE_URL and REDIS_URL for a console in production mode, on a fresh database
    and an empty Redis database; nothing for the embedded default."""
    database_url = os.environ.get("E2E_DATABASE_URL")
    redis_url = os.environ.get("E2E_REDIS_URL")
    if not (database_url and redis_url):
        return {}
    import psycopg
    import redis
    from psycopg import sql

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    redis.Redis.from_url(redis_url).flushdb()
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "Q_BROKER": "redis",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }


class Console:
    token = ""  # an API token a fixture made for the tests that push to it

    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var = tmp
        env = {
            k: v
            for k, v in os.environ.items()
            # The served console is the embedded default, not the test settings.
            if k
            not in {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
        }
        env.update(_production_mode())
        env.update(
            OPSCONSOLE_VAR_DIR=str(tmp),
            PORT=str(self.port),
            HOST="127.0.0.1",
            OPSCONSOLE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            METRICS_COLLECTION_INTERVAL="5",
            # Notification tests' receivers listen on loopback.
            NOTIFY_ALLOWED_HOSTS="127.0.0.1",
        )
        self.env = env
        self.log = open(tmp / "serve.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve"],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {(self.var / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the console did not answer within 90 s")

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # as Ctrl-C would
        try:
            self.process.wait(40)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.log.close()


@pytest.fixture(scope="session")
def console(tmp_path_factory):
    served = Console(tmp_path_factory.mktemp("console"))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page, console, username="admin", password=ADMIN_PASSWORD):
    page.goto(f"{console.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
