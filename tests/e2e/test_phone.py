"""An on-call person with a phone (390 x 844): every page of the menu in sight, the
newest alert near the top of /alerts/, and opening, reading and acknowledging it
without ever scrolling sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, screenshot
from tests.text import captured

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth + 1"


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def test_an_alert_is_opened_read_and_acknowledged_on_a_phone(phone, console):
    out = console.manage(
        "send_test_alert",
        "--severity",
        "critical",
        "--resource",
        "phone-db-01",
        "--message",
        "Replication lag is 94 s on phone-db-01; the standby stopped applying WAL.",
    )
    alert_id = captured(r"alert #(\d+)", out)
    log_in(phone, console)
    phone.wait_for_url(f"{console.url}/")

    # Every page of the menu is on screen: none waits off to the right.
    for link in phone.locator(".topbar .nav a").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], link

    phone.goto(f"{console.url}/alerts/")
    expect(phone.locator("#live-badge")).to_have_text("live", timeout=10_000)
    row = phone.locator(f"#alert-{alert_id}")
    expect(row).to_be_visible()
    # Warnings, filters, bulk actions and pending rules are folded to one line each: the
    # alert is in the upper part of the first screen.
    screenshot(phone, "phone-alerts")
    assert row.bounding_box()["y"] < PHONE["height"] * 0.55
    assert phone.evaluate(NO_SIDEWAYS)

    row.locator("a.alert-link").tap()
    phone.wait_for_url(f"{console.url}/alerts/{alert_id}/")
    expect(phone.locator("h1")).to_contain_text("phone-db-01")
    expect(phone.locator(".message")).to_contain_text("the standby stopped applying WAL")
    assert phone.evaluate(NO_SIDEWAYS)
    expect(phone.locator("#live-badge")).to_have_text("live", timeout=10_000)
    phone.fill("#action-notes", "On it from my phone")
    phone.locator(".detail-actions [data-action=acknowledge]").tap()
    expect(phone.locator("#alert-status")).to_have_text("Acknowledged", timeout=5_000)
    expect(phone.locator("#timeline")).to_contain_text("On it from my phone", timeout=5_000)
    assert phone.evaluate(NO_SIDEWAYS)
    screenshot(phone, "phone-alert-acknowledged")

    for path in ("/", "/alerts/patterns/", "/station/", "/services/"):
        phone.goto(f"{console.url}{path}")
        phone.wait_for_load_state("networkidle")
        assert phone.evaluate(NO_SIDEWAYS), path
