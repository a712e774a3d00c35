"""The alerts console, Sentry Station and patterns in a real browser against the real
console: alerts raised by another process appear live, and actions reach every page."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_PASSWORD, log_in, screenshot
from tests.text import captured

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
# Remembers every socket the page opens, and can hold new ones off (as a network drop
# would) so a test can make changes while the page is away. Held off means a path the
# console has no socket for, on its own origin: another port would be refused by the
# Content-Security-Policy (connect-src 'self') instead of failing like a network.
SOCKET_SPY = """
window.__sockets = [];
window.__offline = false;
const RealWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const target = window.__offline ? String(url).replace("/ws/", "/ws-offline/") : url;
  const socket = new RealWebSocket(target, protocols);
  window.__sockets.push(socket);
  return socket;
};
window.WebSocket.prototype = RealWebSocket.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


@pytest.fixture(scope="module")
def people(console):
    console.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Group, User\n"
        "for name, group in (('bob', 'Responders'), ('carol', 'Viewers')):\n"
        "    user = User.objects.filter(username=name).first() or "
        "User.objects.create_user(name, password=name + '-password-1')\n"
        "    user.groups.add(Group.objects.get(name=group))\n",
    )
    return {"bob": "bob-password-1", "carol": "carol-password-1"}


def _raise(console, resource: str, severity: str = "critical") -> int:
    out = console.manage("send_test_alert", "--severity", severity, "--resource", resource)
    return int(captured(r"alert #(\d+)", out))


def _as(browser, console, who, password, viewport=LAPTOP):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.add_init_script(SOCKET_SPY)
    log_in(page, console, username=who, password=password)
    return context, page


def _live(page):
    expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)


def test_a_new_alert_appears_live_and_an_acknowledgement_reaches_other_pages(
    browser, console, people
):
    bob_context, bob = _as(browser, console, "bob", people["bob"])
    carol_context, carol = _as(browser, console, "carol", people["carol"])
    try:
        for page in (bob, carol):
            page.goto(f"{console.url}/alerts/")
            _live(page)
            page.evaluate("window.__notReloaded = true")
        alert_id = _raise(console, "e2e-live-01")
        row = bob.locator(f"#alert-{alert_id}")
        # Raised by another process, it reaches the open console within a second,
        # without a reload.
        expect(row).to_be_visible(timeout=1_000)
        expect(row).to_contain_text("Test alert (critical) - e2e-live-01")
        expect(carol.locator(f"#alert-{alert_id}")).to_be_visible(timeout=3_000)
        # A viewer reads but has nothing to press.
        expect(carol.locator(f"#alert-{alert_id} [data-action]")).to_have_count(0)
        expect(carol.locator("#bulk")).to_have_count(0)
        screenshot(bob, "alerts-console")

        bob.fill("#action-notes", "Looking at it from the browser")
        row.locator("[data-action=acknowledge]").click()
        expect(row.locator(".status")).to_have_text("Acknowledged", timeout=5_000)
        expect(bob.locator("#flash")).to_contain_text("1 alert updated")
        # The other session sees the change without reloading.
        expect(carol.locator(f"#alert-{alert_id} .status")).to_have_text(
            "Acknowledged", timeout=3_000
        )
        assert bob.evaluate("window.__notReloaded") is True
        assert carol.evaluate("window.__notReloaded") is True

        # The alert's page shows the note in its timeline.
        bob.goto(f"{console.url}/alerts/{alert_id}/")
        expect(bob.locator("#timeline")).to_contain_text("Looking at it from the browser")
        screenshot(bob, "alert-detail")
        bob.set_viewport_size(PHONE)
        screenshot(bob, "alert-detail-phone")
        assert bob.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        carol.set_viewport_size(PHONE)
        screenshot(carol, "alerts-console-phone-viewer")
        assert carol.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        bob_context.close()
        carol_context.close()


def test_the_outcome_shows_when_the_live_update_replaces_the_row_first(browser, console, people):
    # The answer to an action and the live update of the same row race; with a fast
    # socket the row (and the button that asked) is replaced first. The answer is held
    # here until that has happened, so the race is lost every time.
    alert_id = _raise(console, "e2e-race-01")
    context, page = _as(browser, console, "bob", people["bob"])
    held = []
    try:
        page.route(
            "**/alerts/actions/",
            lambda route: held.append((route, route.fetch())),
        )
        page.goto(f"{console.url}/alerts/")
        _live(page)
        row = page.locator(f"#alert-{alert_id}")
        row.evaluate("el => { el.dataset.before = 'yes'; }")
        page.fill("#action-notes", "raced the socket")
        row.locator("[data-action=acknowledge]").click()
        # Committed and pushed live while the answer is still held back.
        expect(row.locator(".status")).to_have_text("Acknowledged", timeout=5_000)
        assert row.evaluate("el => el.dataset.before") is None
        expect(page.locator("#flash")).to_have_text("")
        assert len(held) == 1
        route, response = held[0]
        route.fulfill(response=response)
        expect(page.locator("#flash")).to_contain_text("1 alert updated")
        expect(page.locator("#action-notes")).to_have_value("")
    finally:
        context.close()


def test_a_viewer_post_is_refused_even_with_the_csrf_token(browser, console, people):
    alert_id = _raise(console, "e2e-viewer-post")
    context, page = _as(browser, console, "carol", people["carol"])
    try:
        page.goto(f"{console.url}/alerts/")
        token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(
            f"{console.url}/alerts/actions/",
            form={"action": "resolve", "alert": str(alert_id)},
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        )
        assert response.status == 403
    finally:
        context.close()


def test_keyboard_acknowledge_and_resolve_on_the_alert_page(browser, console, people):
    alert_id = _raise(console, "e2e-keys", "warning")
    context, page = _as(browser, console, "bob", people["bob"])
    try:
        page.goto(f"{console.url}/alerts/?q=e2e-keys")
        _live(page)
        page.keyboard.press("j")
        expect(page.locator(f"#alert-{alert_id}")).to_be_focused()
        page.keyboard.press("a")
        expect(page.locator(f"#alert-{alert_id} .status")).to_have_text("Acknowledged")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(rf"/alerts/{alert_id}/$"))
        _live(page)
        page.keyboard.press("r")
        expect(page.locator("#alert-status")).to_have_text("Resolved")
        expect(page.locator("#timeline")).to_contain_text("Resolved")
        # Resolving again from a stale form is a readable message, not an error page.
        response = page.request.post(
            f"{console.url}/alerts/actions/",
            form={"action": "resolve", "alert": str(alert_id)},
            headers={
                "X-CSRFToken": next(
                    c["value"] for c in context.cookies() if c["name"] == "csrftoken"
                ),
                "HX-Request": "true",
            },
        )
        assert response.status == 409 and "is already resolved" in response.text()
    finally:
        context.close()


def test_a_dropped_connection_catches_up_on_what_it_missed(browser, console, people):
    context, page = _as(browser, console, "carol", people["carol"])
    try:
        page.goto(f"{console.url}/alerts/")
        _live(page)
        # The network drops: the socket closes and new ones cannot reach the console.
        page.evaluate("window.__offline = true; window.__sockets.forEach(s => s.close(4000))")
        expect(page.locator("#live-badge")).to_have_text("reconnecting…")
        alert_id = _raise(console, "e2e-while-away")
        page.wait_for_timeout(1500)  # nothing can arrive while away
        expect(page.locator(f"#alert-{alert_id}")).to_have_count(0)
        page.evaluate("window.__offline = false")
        # The next retry connects, resumes from the last event the page saw, and the
        # alert raised meanwhile is on the page.
        expect(page.locator(f"#alert-{alert_id}")).to_be_visible(timeout=20_000)
        expect(page.locator("#flash")).to_contain_text("caught up")
    finally:
        context.close()


def test_the_alerts_socket_refuses_a_foreign_origin(browser, console, people):
    context, page = _as(browser, console, "carol", people["carol"])
    try:
        page.goto(f"{console.url}/alerts/")
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "sessionid")
    finally:
        context.close()
    url = console.url.replace("http://", "ws://") + "/ws/alerts/"

    async def attempt(origin):
        try:
            async with websockets.connect(
                url, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"}
            ) as ws:
                await ws.send('{"resume": 0}')
                return "open"
        except websockets.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"
        except websockets.ConnectionClosed:
            return "closed"

    def run(origin):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, attempt(origin)).result()

    assert run("http://evil.example").startswith(("refused", "closed"))
    assert run(console.url) == "open"


def test_patterns_and_sentry_station_at_laptop_and_phone_widths(browser, console, people):
    _raise(console, "e2e-patterns", "error")
    context, page = _as(browser, console, "bob", people["bob"])
    try:
        page.goto(f"{console.url}/alerts/patterns/?days=7")
        expect(page.locator("svg.bars rect")).to_have_count(24)
        expect(page.locator("#total-alerts")).to_have_text(re.compile(r"\d+"))
        screenshot(page, "alert-patterns")
        page.goto(f"{console.url}/station/")
        _live(page)
        expect(page.locator("#audit-rows")).to_contain_text("bob logged in")
        # A login in another browser streams in.
        other_context, _ = _as(browser, console, "admin", ADMIN_PASSWORD)
        other_context.close()
        expect(page.locator("#audit-rows")).to_contain_text("admin logged in", timeout=3_000)
        screenshot(page, "sentry-station")
        page.set_viewport_size(PHONE)
        screenshot(page, "sentry-station-phone")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.goto(f"{console.url}/alerts/patterns/?days=7")
        screenshot(page, "alert-patterns-phone")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.goto(f"{console.url}/alerts/")
        screenshot(page, "alerts-console-phone")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()


def test_notes_being_typed_survive_a_live_update_of_the_alert(browser, console, people):
    alert_id = _raise(console, "e2e-typing", "warning")
    context, page = _as(browser, console, "bob", people["bob"])
    try:
        page.goto(f"{console.url}/alerts/{alert_id}/")
        _live(page)
        page.fill("#action-notes", "half-written note")
        # The same problem fires again, worse: the summary and timeline change live.
        assert _raise(console, "e2e-typing", "critical") == alert_id
        expect(page.locator("#timeline")).to_contain_text("Escalated", timeout=3_000)
        expect(page.locator("#alert-summary .sev")).to_have_text("Critical")
        expect(page.locator("#action-notes")).to_have_value("half-written note")
        page.locator("[data-action=acknowledge]").click()
        expect(page.locator("#alert-status")).to_have_text("Acknowledged")
        expect(page.locator("#action-notes")).to_have_value("")
        expect(page.locator("#timeline")).to_contain_text("half-written note")
    finally:
        context.close()


def test_a_gauge_links_to_the_alerts_it_raised(browser, console, people):
    import socket

    hostname = socket.gethostname()  # the console collects its own host
    console.manage(
        "shell",
        "-c",
        "from alerts.service import AlertService; "
        f"AlertService().create_system_alert('cpu_usage_percent', 97, 80, {hostname!r})",
    )
    context, page = _as(browser, console, "carol", people["carol"])
    try:
        page.goto(f"{console.url}/?host={hostname}")
        link = page.locator("#gauge-cpu .gauge-alerts")
        # The count is drawn with the gauges: at the latest on the next collection.
        expect(link).to_be_visible(timeout=15_000)
        screenshot(page, "system-monitor-alert-link")
        link.click()
        expect(page).to_have_url(re.compile(r"/alerts/\?host=.+&metric=cpu"))
        expect(page.locator("#alert-rows")).to_contain_text(f"High CPU Usage - {hostname}")
    finally:
        context.close()
