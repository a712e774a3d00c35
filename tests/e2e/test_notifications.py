"""Notification channels in a real browser, and delivery by the real q2 workers."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, screenshot
from tests.notifications.receivers import Receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def test_an_admin_adds_a_slack_channel_tests_it_and_an_alert_reaches_it(page, console, receiver):
    log_in(page, console)
    page.goto(f"{console.url}/admin/notifications/notificationchannel/add/")
    page.fill("input[name=name]", "ops-slack")
    page.select_option("select[name=kind]", "slack")
    # Only Slack's own fields show, and its webhook URL is a password box.
    expect(page.locator("fieldset.kind-email")).to_be_hidden()
    webhook = page.locator("input[name=slack__webhook_url]")
    expect(webhook).to_be_visible()
    assert webhook.get_attribute("type") == "password"
    webhook.fill("http://169.254.169.254/hook")
    page.click("input[name=_save]")
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("non-public address")
    screenshot(page, "admin-channel-refused")

    page.fill("input[name=slack__webhook_url]", f"{receiver.url}/services/T0/B0/SECRET")
    page.click("input[name=_save]")
    expect(page.locator("#result_list")).to_contain_text("webhook_url ••••••")
    expect(page.locator("#result_list")).not_to_contain_text("SECRET")
    # The channel's own page says a value is stored and has the test button.
    page.locator("#result_list a", has_text="ops-slack").click()
    expect(page.locator(".field-slack__webhook_url")).to_contain_text("A value is set")
    page.click("button.test-message")
    expect(page.locator(".messagelist")).to_contain_text(
        "Test message to ops-slack: sent (HTTP 200)."
    )
    screenshot(page, "admin-channel-tested")

    # A critical alert goes to every channel (the default matrix), through the workers.
    console.manage(
        "shell",
        "-c",
        "from alerts.notify import get_alert_manager; get_alert_manager().send_alert("
        "'CRITICAL: Primary Postgres Connection Failed', 'critical', context={'node': 'db-01'})",
    )
    deadline = time.monotonic() + 60
    while len(receiver.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(receiver.requests) == 2, "the workers never delivered the alert"
    header = receiver.requests[1].json["blocks"][0]["text"]["text"]
    assert header == "[CRITICAL] Primary Postgres Connection Failed"

    page.goto(f"{console.url}/admin/notifications/notification/")
    expect(page.locator("#result_list")).to_contain_text("Primary Postgres")
    expect(page.locator("#result_list")).to_contain_text("Sent")
    screenshot(page, "admin-delivery-log")


def test_an_alert_page_shows_its_deliveries_and_follows_them_live(page, console, receiver):
    console.manage(
        "shell",
        "-c",
        "from notifications.models import NotificationChannel; NotificationChannel.objects.create("
        f"name='ops-webhook', kind='webhook', secrets={{'url': '{receiver.url}/incoming'}})",
    )
    out = console.manage(
        "send_test_alert", "--severity", "critical", "--resource", "e2e-deliveries"
    )
    alert_id = int(out.split("#", 1)[1].split()[0])
    deadline = time.monotonic() + 60
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.requests, "the workers never delivered the alert"

    log_in(page, console, "admin")
    page.goto(f"{console.url}/alerts/{alert_id}/")
    panel = page.locator(f"#deliveries-{alert_id}")
    row = panel.locator("tr.delivery", has_text="ops-webhook")
    expect(row).to_contain_text("Sent")
    expect(row).to_contain_text("HTTP 200")
    expect(panel).not_to_contain_text("/incoming")
    expect(page.locator("#live-badge")).to_have_attribute("data-state", "live")

    # Sent again while the page is open, to a receiver that now fails: no reload needed.
    receiver.default = (503, {"Content-Type": "application/json"}, b"{}")
    console.manage(
        "shell",
        "-c",
        "from notifications.delivery import resend; from notifications.models import Notification; "
        f"resend(list(Notification.objects.filter(alert_id={alert_id}, "
        "channel__name='ops-webhook').values_list('pk', flat=True)))",
    )
    expect(row).to_contain_text("Retrying", timeout=30000)
    expect(row).to_contain_text("HTTP 503")
    screenshot(page, "alert-deliveries")
