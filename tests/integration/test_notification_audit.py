"""Channel edits and messages given up on reach the audit stream (Sentry Station)."""

from __future__ import annotations

import pytest

from notifications.models import NotificationChannel
from opsconsole.bootstrap import load_defaults
from opsconsole.models import AuditEntry
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db

JSON = {"Content-Type": "application/json"}


def entries(kind: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(kind=kind).order_by("id"))


def test_a_channel_made_through_the_api_is_recorded_with_who_did_it_and_no_secret(
    alice, token_for, api_client, receiver
):
    api = api_client(token_for(alice, "read,write"))
    secret = f"{receiver.url}/services/T0/B0/SECRETPART"
    response = api.post(
        "/channels", {"name": "ops-slack", "kind": "slack", "secrets": {"webhook_url": secret}}
    )
    assert response.status_code == 201, response.content
    (entry,) = entries("config_change")
    assert entry.actor == "alice" and "ops-slack" in entry.summary and "created" in entry.summary
    assert entry.object_type == "notifications.notificationchannel"
    assert "SECRETPART" not in entry.summary and "SECRETPART" not in str(entry.data)


def test_a_channel_secret_changed_through_the_api_is_recorded_without_the_secret(
    alice, token_for, api_client, make_channel, receiver
):
    channel = make_channel("slack", name="ops-slack", receiver=receiver)
    api = api_client(token_for(alice, "read,write"))
    response = api.client_patch(
        f"/channels/{channel.pk}",
        {"secrets": {"webhook_url": f"{receiver.url}/services/T1/B1/NEWSECRET"}},
    )
    assert response.status_code == 200, response.content
    entry = entries("config_change")[-1]
    assert entry.actor == "alice" and "changed" in entry.summary
    assert "NEWSECRET" not in entry.summary and "NEWSECRET" not in str(entry.data)


def test_a_channel_edited_and_deleted_in_the_admin_is_recorded(client, alice, make_channel):
    load_defaults()
    channel = make_channel("dashboard", name="screen")
    client.force_login(alice)
    response = client.post(
        f"/admin/notifications/notificationchannel/{channel.pk}/change/",
        {
            "name": "big screen",
            "kind": "dashboard",
            "enabled": "on",
            "min_severity": "warning",
            "send_resolved": "on",
            "rate_limit_per_minute": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client.post(f"/admin/notifications/notificationchannel/{channel.pk}/delete/", {"post": "yes"})
    changed, deleted = entries("config_change")[-2:]
    assert changed.actor == "alice" and "big screen" in changed.summary
    assert deleted.actor == "alice" and "deleted" in deleted.summary


def test_disabling_channels_from_the_admin_list_is_recorded(client, alice, make_channel):
    load_defaults()
    channel = make_channel("dashboard", name="screen")
    client.force_login(alice)
    client.post(
        "/admin/notifications/notificationchannel/",
        {"action": "disable", "_selected_action": [str(channel.pk)]},
    )
    channel.refresh_from_db()
    assert channel.enabled is False
    entry = entries("config_change")[-1]
    assert entry.actor == "alice" and "screen" in entry.summary


def test_a_dead_letter_is_on_the_audit_stream_and_sentry_station(
    settings, client, carol, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (503, JSON, b"{}")
    alert = fire(django_capture_on_commit_callbacks)
    (entry,) = entries("delivery_failed")
    assert f"alert #{alert.pk} to ops-hook dead after 1 attempts" in entry.summary
    assert entry.data["response_code"] == 503 and entry.data["alert_id"] == alert.pk
    assert receiver.url not in entry.summary
    client.force_login(carol)
    page = client.get("/station/", {"kind": "delivery_failed"}).content.decode()
    assert f"alert #{alert.pk} to ops-hook dead after 1 attempts" in page


def test_a_refused_message_is_on_the_audit_stream(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (400, JSON, b'{"error": "bad"}')
    fire(django_capture_on_commit_callbacks)
    (entry,) = entries("delivery_failed")
    assert "to ops-hook refused" in entry.summary and entry.data["status"] == "failed"


def test_a_message_that_is_only_retried_is_not_audit_noise(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (503, JSON, b"{}")
    fire(django_capture_on_commit_callbacks)
    assert entries("delivery_failed") == []
    assert NotificationChannel.objects.get().consecutive_failures == 1
