"""The System Monitor in a real browser against the real console."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets
from playwright.sync_api import expect
from websockets.typing import Origin

from tests.e2e.conftest import ADMIN_PASSWORD, log_in, screenshot

pytestmark = pytest.mark.e2e


def _session_cookie(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")


def test_an_anonymous_visit_goes_to_the_login_page(page, console):
    page.goto(f"{console.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")


def test_a_wrong_password_says_so(page, console):
    log_in(page, console, password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    screenshot(page, "login-error")


def test_gauges_change_live_after_a_collection_without_reload(page, console):
    log_in(page, console)
    expect(page.get_by_role("heading", name="System Monitor")).to_be_visible()
    # The first collection may still be on its way (one every 5 s here).
    vitals = page.locator("#vitals")
    expect(vitals).to_have_attribute("data-time", re.compile(r"\d{4}-"), timeout=20_000)
    first = vitals.get_attribute("data-time")
    page.evaluate("window.__notReloaded = true")
    # The next collection arrives over the websocket and replaces the gauges in place.
    page.wait_for_function(
        "t => document.querySelector('#vitals').dataset.time !== t", arg=first, timeout=20_000
    )
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("#gauge-cpu .gauge-value")).to_have_text(re.compile(r"\d+(\.\d+)? %"))
    expect(page.locator("#gauge-memory .gauge-value")).to_have_text(re.compile(r"%"))
    expect(page.locator("#processes tbody tr").first).to_be_visible()
    # History charts load by htmx, and the range picker swaps them.
    expect(page.locator("#charts svg").first).to_be_visible(timeout=10_000)
    page.locator(".range-picker button", has_text="6h").click()
    expect(page.locator(".range-picker button.active")).to_have_text("6h")
    expect(page).to_have_url(re.compile(r"range=6h"))
    screenshot(page, "system-monitor")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "system-monitor-phone")
    # The page never scrolls sideways at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_admin_shows_hosts_tokens_and_tasks(page, console):
    log_in(page, console)
    page.goto(f"{console.url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    screenshot(page, "admin")
    page.goto(f"{console.url}/admin/metrics/host/")
    expect(page.locator("#result_list")).to_contain_text("samples")
    screenshot(page, "admin-hosts")
    page.locator("#result_list a", has_text="samples").first.click()
    expect(page.locator("table", has_text="Time (UTC)")).to_contain_text("cpu_usage_percent")
    screenshot(page, "admin-host-samples")
    page.goto(f"{console.url}/admin/opsconsole/apitoken/add/")
    page.select_option("select[name=user]", label="admin")
    page.fill("input[name=name]", "agent e2e")
    page.check("input[name=scopes][value=ingest]")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("will not be shown again")
    screenshot(page, "admin-api-tokens")
    page.goto(f"{console.url}/admin/django_q/success/")
    expect(page.locator("#result_list")).to_be_visible()


def test_the_websocket_admits_only_signed_in_same_origin_pages(page, console):
    log_in(page, console)
    expect(page.get_by_role("heading", name="System Monitor")).to_be_visible()
    socket_url = page.locator("#live").get_attribute("ws-connect")
    url = console.url.replace("http://", "ws://") + socket_url
    cookie = f"sessionid={_session_cookie(page)}"

    async def attempt(origin: Origin | None, with_cookie: bool) -> str:
        headers = {"Cookie": cookie} if with_cookie else {}
        try:
            async with websockets.connect(url, origin=origin, additional_headers=headers) as ws:
                frame = await asyncio.wait_for(ws.recv(), timeout=15)
                return "frame" if 'id="vitals"' in frame else "other"
        except websockets.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"
        except websockets.ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else ''}"

    def run(origin, with_cookie):
        # playwright's sync API keeps an event loop on this thread; use another.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, attempt(origin, with_cookie)).result()

    assert run("http://evil.example", True).startswith(("refused", "closed"))
    assert run(console.url, False).startswith(("refused", "closed"))
    assert run(console.url, True) == "frame"


def test_the_api_answers_with_a_token(console):
    token = console.manage("create_api_token", "--user", "admin", "--scopes", "read").strip()
    response = httpx.get(
        f"{console.url}/api/v1/system/overview", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert json.dumps(response.json())  # a JSON document
    assert httpx.get(f"{console.url}/api/v1/system/overview").status_code == 401
    assert ADMIN_PASSWORD not in response.text


def test_an_account_without_a_role_is_told_what_it_needs(page, console):
    console.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='norole').exists() or "
        "User.objects.create_user('norole', password='norole-password-1')",
    )
    log_in(page, console, username="norole", password="norole-password-1")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Viewers")
    screenshot(page, "not-allowed")


def test_the_admin_lists_alerts_with_their_timeline_and_validates_rules(page, console):
    console.manage(
        "shell",
        "-c",
        "from alerts.service import AlertService; s = AlertService(); "
        "a = s.create_system_alert('cpu_percent', 92, 80, 'web-server-01'); "
        "s.acknowledge_alert(a.pk, acknowledged_by='bob', notes='looking at gunicorn')",
    )
    log_in(page, console)
    page.goto(f"{console.url}/admin/alerts/alert/")
    expect(page.locator("#result_list")).to_contain_text("High CPU Usage - web-server-01")
    screenshot(page, "admin-alerts")
    page.locator("#result_list a", has_text="High CPU Usage").first.click()
    expect(page.locator("body")).to_contain_text("looking at gunicorn")
    screenshot(page, "admin-alert-timeline")
    page.goto(f"{console.url}/admin/alerts/alertrule/add/")
    page.fill("input[name=name]", "CPU high")
    page.fill("input[name=metric]", "cpu_usge_percent")
    page.fill("input[name=threshold]", "80")
    page.click("input[name=_save]")
    expect(page.locator(".errorlist")).to_contain_text("No metric named 'cpu_usge_percent'")
    screenshot(page, "admin-rule-error")
