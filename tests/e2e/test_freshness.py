"""Open pages date what they show in the browser: the System Monitor counts the age of
its host's newest sample and warns once it is stale, the alert pages count since each
alert was last seen, and a page whose socket dropped says its updates are paused."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.e2e.test_alerts_console import SOCKET_SPY
from tests.text import captured

pytestmark = pytest.mark.e2e

FRESH = re.compile(r"^last sample (just now|\d+ s ago)$")
SECONDS_AGO = re.compile(r"^(just now|\d+ s ago)$")
# The served console collects every 5 s, so a host is stale after 15 s without a sample.
STALE_AFTER = 15


@pytest.fixture(scope="module")
def push(console):
    """push(host, at): one batch of gauges for a host that has no agent of its own."""
    token = console.manage("create_api_token", "--user", "admin", "--scopes", "ingest").strip()

    def send(host: str, at: datetime) -> None:
        samples = [
            {"metric": metric, "value": value, "time": at.isoformat()}
            for metric, value in (
                ("cpu_usage_percent", 12.5),
                ("memory_usage_percent", 40.0),
                ("load_1m", 0.4),
            )
        ]
        response = httpx.post(
            f"{console.url}/api/v1/metrics",
            json={"host": host, "samples": samples},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text

    return send


def _seconds(text: str) -> int:
    found = re.search(r"(\d+) s", text)
    return int(found.group(1)) if found else 0


def _contrast(page, selector: str) -> float:
    colours = page.eval_on_selector(
        selector,
        "el => { const s = getComputedStyle(el); return [s.color, s.backgroundColor]; }",
    )

    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    ink, ground = sorted(map(luminance, colours), reverse=True)
    return (ink + 0.05) / (ground + 0.05)


def test_the_sample_age_ticks_turns_stale_and_a_new_sample_resets_it(browser, console, push):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(SOCKET_SPY)
    try:
        push("e2e-quiet", datetime.now(UTC))
        log_in(page, console)
        page.goto(f"{console.url}/?host=e2e-quiet")
        age = page.locator("#sample-age")
        expect(age).to_have_text(FRESH)
        expect(page.locator("#live")).to_have_attribute("data-interval", "5")
        page.evaluate("window.__notReloaded = true")

        # The clock runs in the page: the text changes with no frame and no reload.
        first = age.text_content()
        page.wait_for_function(
            "t => document.getElementById('sample-age').textContent !== t", arg=first
        )
        page.wait_for_timeout(1200)
        later = age.text_content()
        assert FRESH.match(later) and _seconds(later) > _seconds(first)
        expect(age).not_to_have_class(re.compile(r"\bstale\b"))
        expect(page.locator("#sample-status")).to_have_text("")

        # No sample arrives for three intervals: a warning, announced once.
        expect(age).to_have_class(re.compile(r"\bstale\b"), timeout=(STALE_AFTER + 10) * 1000)
        expect(age).to_have_text(re.compile(r"^no sample for \d+ s$"))
        assert _seconds(age.text_content()) > STALE_AFTER
        status = page.locator("#sample-status")
        expect(status).to_have_text(re.compile(r"^No sample from e2e-quiet for \d+ s"))
        announced = status.text_content()
        page.wait_for_timeout(2200)
        assert status.text_content() == announced  # not re-announced every second
        assert _seconds(age.text_content()) >= _seconds(announced) + 2
        assert _contrast(page, "#sample-age") >= 4.5
        # The host's badge, drawn healthy with the last frame, says so too.
        expect(page.locator("#host-status")).to_have_text("No data")
        assert _contrast(page, "#host-status") >= 4.5

        # The next sample's live frame resets it.
        push("e2e-quiet", datetime.now(UTC))
        expect(age).to_have_text(FRESH, timeout=10_000)
        expect(age).not_to_have_class(re.compile(r"\bstale\b"))
        expect(status).to_have_text("Samples from e2e-quiet are arriving again.")
        expect(page.locator("#host-status")).not_to_have_text("No data")
        assert page.evaluate("window.__notReloaded") is True

        # A dropped socket says so on the page until the next connection.
        paused = page.locator("#live-paused")
        expect(paused).to_be_empty()
        page.evaluate("window.__offline = true; window.__sockets.forEach(s => s.close(4000))")
        expect(paused).to_have_text("Live updates paused, reconnecting…")
        assert _contrast(page, "#live-paused") >= 4.5
        page.evaluate("window.__offline = false")
        expect(paused).to_have_text("Live updates resumed.", timeout=20_000)
        expect(paused).to_be_empty(timeout=10_000)
    finally:
        context.close()


def test_a_host_silent_for_minutes_is_stale_as_the_page_opens(page, console, push):
    push("e2e-silent", datetime.now(UTC) - timedelta(minutes=3))
    log_in(page, console)
    page.goto(f"{console.url}/?host=e2e-silent")
    age = page.locator("#sample-age")
    expect(age).to_have_text(re.compile(r"^no sample for 3 min$"))
    expect(age).to_have_class(re.compile(r"\bstale\b"))
    # Stale from the start is the page's state, not a change to announce.
    page.wait_for_timeout(1200)
    expect(page.locator("#sample-status")).to_have_text("")


def _raise(console, resource: str) -> int:
    out = console.manage("send_test_alert", "--severity", "critical", "--resource", resource)
    return int(captured(r"alert #(\d+)", out))


def test_the_alert_page_counts_since_the_alert_was_last_seen(page, console):
    alert_id = _raise(console, "e2e-fresh-detail")
    log_in(page, console)
    page.goto(f"{console.url}/alerts/{alert_id}/")
    ago = page.locator("#alert-summary .ago:not([data-prefix])")
    expect(ago).to_have_text(SECONDS_AGO)
    first = ago.text_content()
    page.wait_for_function(
        "t => document.querySelector('#alert-summary .ago:not([data-prefix])').textContent !== t",
        arg=first,
    )
    page.wait_for_timeout(1200)
    assert _seconds(ago.text_content()) > _seconds(first)
    expect(page.locator("#alert-summary")).to_contain_text("last seen")


def test_the_alert_list_counts_per_row_including_rows_that_arrive_live(browser, console):
    _raise(console, "e2e-fresh-before")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(SOCKET_SPY)
    try:
        log_in(page, console)
        page.goto(f"{console.url}/alerts/")
        expect(page.locator("#live-badge")).to_have_text("live", timeout=10_000)
        rows = page.locator("#alert-rows tr.alert-row")
        expect(rows.first.locator(".ago:not([data-prefix])")).to_have_text(
            re.compile(r" ago$|^just now$")
        )

        arrived = _raise(console, "e2e-fresh-live")
        row = page.locator(f"#alert-{arrived}")
        expect(row).to_be_visible(timeout=10_000)
        ago = row.locator(".ago:not([data-prefix])")
        expect(ago).to_have_text(SECONDS_AGO)
        expect(row.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
        first = ago.text_content()
        page.wait_for_function(
            "([id, t]) => document.querySelector("
            "'#alert-' + id + ' .ago:not([data-prefix])').textContent !== t",
            arg=[arrived, first],
        )

        paused = page.locator("#live-paused")
        page.evaluate("window.__offline = true; window.__sockets.forEach(s => s.close(4000))")
        expect(paused).to_have_text("Live updates paused, reconnecting…")
        page.evaluate("window.__offline = false")
        expect(paused).to_have_text("Live updates resumed.", timeout=20_000)
    finally:
        context.close()
