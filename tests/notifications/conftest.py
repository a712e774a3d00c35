"""Fixtures for the notification tests: loopback receivers and channels aimed at them."""

from __future__ import annotations

import pytest

from tests.notifications.receivers import Receiver, SMTPReceiver


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    # The SSRF guard refuses loopback; these tests' receivers live there, by choice.
    settings.NOTIFY_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.NOTIFY_HTTP_TIMEOUT = 2.0
    settings.PUBLIC_URL = "https://ops.example.com"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = SMTPReceiver()
    yield server
    server.stop()


@pytest.fixture
def make_channel(db):
    from notifications.models import NotificationChannel

    def make(kind="webhook", name=None, *, receiver=None, config=None, secrets=None, **fields):
        config = dict(config or {})
        secrets = dict(secrets or {})
        if receiver is not None:
            if kind in ("slack", "discord"):
                secrets.setdefault("webhook_url", f"{receiver.url}/hook/T000/SECRET-PATH-1234")
            elif kind == "webhook":
                secrets.setdefault("url", f"{receiver.url}/incoming")
            elif kind == "pagerduty":
                config.setdefault("url", f"{receiver.url}/v2/enqueue")
                secrets.setdefault("routing_key", "R0UTINGKEY00000000000000000000")
            elif kind == "telegram":
                config.setdefault("api_base", receiver.url)
                config.setdefault("chat_id", "-1001234")
                secrets.setdefault("bot_token", "123456:BOT-TOKEN-SECRET")
            elif kind == "sms":
                config.setdefault("api_base", receiver.url)
                config.setdefault("from_number", "+15550000001")
                config.setdefault("to_numbers", ["+15550000002"])
                secrets.setdefault("account_sid", "AC" + "0" * 32)
                secrets.setdefault("auth_token", "TWILIO-AUTH-TOKEN")
        fields.setdefault("rate_limit_per_minute", 0)
        return NotificationChannel.objects.create(
            name=name or f"{kind}-{NotificationChannel.objects.count() + 1}",
            kind=kind,
            config=config,
            secrets=secrets,
            **fields,
        )

    return make


@pytest.fixture
def route_all(db):
    """One routing rule: every severity to every channel, each alert on its own and at
    once (no grouping, no timers), as the per-alert tests expect."""
    from notifications.models import NO_GROUPING, RoutingRule

    return RoutingRule.objects.create(
        name="everything", all_channels=True, group_by=[NO_GROUPING], group_wait=0, group_interval=0
    )
