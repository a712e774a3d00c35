"""The Services page in a real browser against the real console: states change live."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, screenshot

pytestmark = pytest.mark.e2e


class _Service(ThreadingHTTPServer):
    healthy = True  # /health answers 200 "ok", else 503 "maintenance"


class _Health(BaseHTTPRequestHandler):
    server: _Service

    def do_GET(self):
        status = 200 if self.server.healthy else 503
        body = b"ok" if self.server.healthy else b"maintenance"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


def test_an_endpoint_going_down_turns_red_without_a_reload(page, console):
    server = _Service(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    try:
        console.manage(
            "shell",
            "-c",
            "from healthchecks.models import ServiceEndpoint as E\n"
            f"db = E.objects.create(name='database', kind='database', target='default', "
            f"interval_seconds=5)\n"
            f"E.objects.create(name='chat-service', target='{url}', interval_seconds=5, "
            f"max_response_time_ms=2000, parent=db)\n"
            "E.objects.create(name='nightly-backup', kind='heartbeat', period_seconds=86400)\n",
        )
        log_in(page, console)
        page.goto(f"{console.url}/services/")
        expect(page.get_by_role("heading", name="Services")).to_be_visible()
        row = page.locator("tr", has_text="chat-service")
        expect(row).to_have_attribute("data-state", "up", timeout=20_000)
        page.evaluate("window.__notReloaded = true")
        server.healthy = False
        expect(row).to_have_attribute("data-state", "down", timeout=20_000)
        expect(row.locator(".last-error")).to_contain_text("status 503")
        assert page.evaluate("window.__notReloaded") is True
        database = page.locator("tbody tr", has=page.get_by_text("database", exact=True))
        expect(database).to_have_attribute("data-state", "up")
        screenshot(page, "services")
        badge = httpx.get(f"{console.url}/badge/chat-service.svg", timeout=5)
        assert badge.headers["content-type"] == "image/svg+xml"
        assert re.search(r"chat-service: down", badge.text)
    finally:
        server.shutdown()
        server.server_close()
