"""Channels, routing rules and the delivery log in the admin."""

from __future__ import annotations

import pytest

from notifications.models import DeliveryStatus, Notification, NotificationChannel, RoutingRule
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/notifications/notificationchannel/add/"
LIST_URL = "/admin/notifications/notificationchannel/"


def _channel_form(**overrides):
    data = {
        "name": "ops-slack",
        "kind": "slack",
        "enabled": "on",
        "min_severity": "",
        "send_resolved": "on",
        "rate_limit_per_minute": "",
    }
    data.update(overrides)
    return data


def test_an_unsafe_webhook_url_is_a_form_error(settings, admin_client):
    settings.NOTIFY_ALLOWED_HOSTS = []
    response = admin_client.post(
        ADD_URL,
        _channel_form(slack__webhook_url="http://169.254.169.254/latest"),
    )
    assert response.status_code == 200
    assert "a non-public address" in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_secrets_are_saved_and_shown_only_masked(admin_client, receiver):
    secret = f"{receiver.url}/services/T0/B0/VERYSECRET"
    response = admin_client.post(ADD_URL, _channel_form(slack__webhook_url=secret))
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = NotificationChannel.objects.get()
    assert channel.secrets == {"webhook_url": secret}
    listing = admin_client.get(LIST_URL).content.decode()
    change = admin_client.get(f"{LIST_URL}{channel.pk}/change/").content.decode()
    assert "webhook_url ••••••" in listing and "A value is set; leave empty to keep it" in change
    assert 'type="password"' in change
    assert "VERYSECRET" not in listing and "VERYSECRET" not in change

    # Saving the form again without secrets keeps them.
    admin_client.post(f"{LIST_URL}{channel.pk}/change/", _channel_form(enabled=""))
    channel.refresh_from_db()
    assert channel.secrets == {"webhook_url": secret} and not channel.enabled


def test_the_send_test_action_shows_the_result(admin_client, make_channel, receiver):
    good = make_channel("slack", "good", receiver=receiver)
    down = make_channel("webhook", "down", secrets={"url": "http://127.0.0.1:9/nothing"})
    response = admin_client.post(
        LIST_URL,
        {"action": "send_test_message", "_selected_action": [good.pk, down.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert "Test message to good: sent (HTTP 200)." in shown
    assert any(m.startswith("Test message to down: failed: network error") for m in shown)
    assert len(receiver.requests) == 1


def test_the_delivery_log_is_read_only_with_a_resend_action(
    admin_client, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.answer((400, {}, b"bad"))
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    log_url = "/admin/notifications/notification/"
    page = admin_client.get(log_url, {"status__exact": "failed"}).content.decode()
    assert "HTTP 400: bad" in page
    assert admin_client.get(f"{log_url}add/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            log_url,
            {"action": "resend_selected", "_selected_action": [notification.pk]},
            follow=True,
        )
    assert "1 message(s) queued to be sent again." in [str(m) for m in response.context["messages"]]
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT


def test_a_routing_rule_with_an_unknown_severity_is_a_form_error(admin_client):
    response = admin_client.post(
        "/admin/notifications/routingrule/add/",
        {
            "name": "bad",
            "position": 10,
            "enabled": "on",
            "severities": ["dire"],
            "label_matchers": "",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice. dire is not one of the available choices." in (
        response.content.decode()
    )
    assert not RoutingRule.objects.exists()


def test_a_routing_rule_is_ticked_and_typed_not_written_in_json(admin_client):
    page = admin_client.get("/admin/notifications/routingrule/add/").content.decode()
    assert 'type="checkbox" name="severities" value="critical"' in page
    assert 'type="checkbox" name="channel_kinds" value="pagerduty"' in page
    response = admin_client.post(
        "/admin/notifications/routingrule/add/",
        {
            "name": "Database pages",
            "position": 5,
            "enabled": "on",
            "severities": ["error", "critical"],
            "categories": ["database"],
            "label_matchers": "team = db\nenv = prod",
            "channel_kinds": ["pagerduty", "sms"],
            "group_by": "rule, host",
            "group_wait": 30,
            "group_interval": 300,
            "repeat_interval": 14400,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.get(name="Database pages")
    assert rule.severities == ["error", "critical"] and rule.categories == ["database"]
    assert rule.label_matchers == {"team": "db", "env": "prod"}
    assert rule.channel_kinds == ["pagerduty", "sms"] and rule.group_by == ["rule", "host"]
    change = admin_client.get(f"/admin/notifications/routingrule/{rule.pk}/change/")
    assert "team = db" in change.content.decode()


def test_old_admin_addresses_of_channels_lead_to_their_new_pages(admin_client):
    response = admin_client.get("/admin/alerts/notificationchannel/?kind=slack")
    assert response.status_code == 302
    assert response["Location"] == "/admin/notifications/notificationchannel/?kind=slack"
    assert admin_client.get(response["Location"]).status_code == 200


def test_each_kind_has_its_own_typed_fields_and_secrets_as_password_boxes(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    for name in ("slack__webhook_url", "email__to", "email__port", "sms__to_numbers"):
        assert f'name="{name}"' in page
    assert 'name="sms__auth_token"' in page and 'type="password"' in page
    assert 'name="config"' not in page and 'name="new_secrets"' not in page
    assert "kind-settings kind-email" in page


def test_an_email_channel_is_saved_from_its_fields(admin_client, settings):
    settings.NOTIFY_ALLOWED_HOSTS = ["127.0.0.1"]
    response = admin_client.post(
        ADD_URL,
        _channel_form(
            name="oncall-mail",
            kind="email",
            email__to="ops@example.com, dba@example.com",
            email__host="127.0.0.1",
            email__port="587",
            email__use_tls="on",
            email__password="smtp-s3cret",
            slack__webhook_url="https://hooks.slack.com/ignored",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    channel = NotificationChannel.objects.get()
    assert channel.config == {
        "to": ["ops@example.com", "dba@example.com"],
        "host": "127.0.0.1",
        "port": 587,
        "use_tls": True,
    }
    # Only the chosen kind's fields are read.
    assert channel.secrets == {"password": "smtp-s3cret"}
    change = admin_client.get(f"{LIST_URL}{channel.pk}/change/").content.decode()
    assert "smtp-s3cret" not in change and "A value is set; leave empty to keep it" in change


def test_a_bad_sms_number_is_refused_on_its_field_as_the_api_refuses_it(admin_client):
    response = admin_client.post(
        ADD_URL,
        _channel_form(
            name="pager",
            kind="sms",
            sms__from_number="+15551230000",
            sms__to_numbers="555-1234",
            sms__account_sid="AC123",
            sms__auth_token="tok",
        ),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "E.164" in " ".join(str(e) for errors in form.errors.values() for e in errors)
    assert not NotificationChannel.objects.exists()


def test_the_channel_page_has_a_send_test_button(admin_client, make_channel, receiver):
    channel = make_channel("slack", "good", receiver=receiver)
    page = admin_client.get(f"{LIST_URL}{channel.pk}/change/").content.decode()
    assert "Send a test message" in page
    response = admin_client.post(f"{LIST_URL}{channel.pk}/test/", follow=True)
    assert "Test message to good: sent (HTTP 200)." in [
        str(m) for m in response.context["messages"]
    ]
    assert len(receiver.requests) == 1
    assert admin_client.get(f"{LIST_URL}{channel.pk}/test/").status_code == 403
