"""Channels, routing rules and the delivery log over the API, with roles."""

from __future__ import annotations

import pytest

from notifications.models import DeliveryStatus, Notification, NotificationChannel, RoutingRule
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(alice, token_for, api_client):
    return api_client(token_for(alice, "read,write"))


@pytest.fixture
def slack_body(receiver):
    return {
        "name": "ops-slack",
        "kind": "slack",
        "secrets": {"webhook_url": f"{receiver.url}/services/T0/B0/SECRETPART"},
    }


def test_an_admin_creates_a_channel_whose_secrets_never_come_back(admin_api, slack_body):
    response = admin_api.post("/channels", slack_body)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secrets_set"] == ["webhook_url"]
    assert "SECRETPART" not in response.content.decode()
    listed = admin_api.get("/channels").content.decode()
    assert "ops-slack" in listed and "SECRETPART" not in listed
    assert NotificationChannel.objects.get().secrets["webhook_url"].endswith("SECRETPART")


def test_a_channel_answers_the_same_fields_as_before(admin_api, slack_body):
    body = admin_api.post("/channels", slack_body).json()
    assert set(body) == {
        "id", "name", "kind", "config", "secrets_set", "min_severity", "enabled",
        "send_resolved", "rate_limit_per_minute", "consecutive_failures",
        "circuit_open_until", "created", "updated",
    }  # fmt: skip
    assert body["config"] == {} and body["rate_limit_per_minute"] is None


def test_an_sms_channel_defaults_to_critical_alerts(admin_api, receiver):
    response = admin_api.post(
        "/channels",
        {
            "name": "on-call phone",
            "kind": "sms",
            "config": {"from_number": "+15550000001", "to_numbers": ["+15550000002"]},
            "secrets": {"account_sid": "AC1", "auth_token": "t0ken"},
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["min_severity"] == "critical"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"name": "x", "kind": "webhook", "secrets": {"url": "http://169.254.169.254/"}},
            "url: host '169.254.169.254' resolves to 169.254.169.254, a non-public address",
        ),
        (
            {"name": "x", "kind": "slack", "secrets": {"webhook_url": "http://[::1]:8080/"}},
            "non-public address",
        ),
        ({"name": "x", "kind": "slack"}, "secrets.webhook_url is required"),
        ({"name": "x", "kind": "carrier-pigeon"}, "kind must be one of"),
        (
            {"name": "x", "kind": "webhook", "secrets": {"url": "gopher://example.com/"}},
            "only http and https",
        ),
        (
            {"name": "x", "kind": "slack", "config": {"webhook_url": "https://93.184.215.14/"}},
            "webhook_url is a secret",
        ),
        (
            {
                "name": "x",
                "kind": "email",
                "config": {"to": ["not-an-address"]},
            },
            "'not-an-address' is not an email address",
        ),
    ],
)
def test_unusable_channels_are_refused_with_one_line(settings, admin_api, body, message):
    settings.NOTIFY_ALLOWED_HOSTS = []
    response = admin_api.post("/channels", body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert not NotificationChannel.objects.exists()


def test_a_patch_merges_secrets_and_keeps_the_rest(admin_api, slack_body):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    response = admin_api.client_patch(
        f"/channels/{channel_id}", {"min_severity": "high", "enabled": False}
    )
    assert response.status_code == 200, response.content
    channel = NotificationChannel.objects.get()
    assert channel.min_severity == "error" and not channel.enabled
    assert channel.secrets["webhook_url"].endswith("SECRETPART")


def test_a_patch_cannot_point_a_channel_into_the_network(settings, admin_api, slack_body):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    settings.NOTIFY_ALLOWED_HOSTS = []
    response = admin_api.client_patch(
        f"/channels/{channel_id}", {"secrets": {"webhook_url": "http://10.0.0.5/hook"}}
    )
    assert response.status_code == 422
    assert NotificationChannel.objects.get().secrets["webhook_url"].endswith("SECRETPART")


def test_the_test_endpoint_sends_and_reports_the_answer(admin_api, slack_body, receiver):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    response = admin_api.post(f"/channels/{channel_id}/test")
    assert response.json()["ok"] is True and response.json()["response_code"] == 200
    assert receiver.requests[0].json["blocks"][0]["text"]["text"].startswith("[TEST]")

    receiver.answer((404, {}, b"no_service"))
    failed = admin_api.post(f"/channels/{channel_id}/test").json()
    assert failed["ok"] is False and failed["response_code"] == 404
    assert failed["error"] == "HTTP 404: no_service"


def test_viewers_read_channels_but_only_admins_change_them(
    carol, bob, token_for, api_client, admin_api, slack_body
):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    viewer = api_client(token_for(carol, "read,write"))
    responder = api_client(token_for(bob, "read,write"))
    assert viewer.get("/channels").status_code == 200
    assert viewer.post("/channels", slack_body | {"name": "y"}).status_code == 403
    assert responder.client_patch(f"/channels/{channel_id}", {"enabled": False}).status_code == 403
    assert responder.post(f"/channels/{channel_id}/test").status_code == 403
    assert responder.client_delete(f"/channels/{channel_id}").status_code == 403
    assert admin_api.client_delete(f"/channels/{channel_id}").status_code == 204
    assert admin_api.get(f"/channels/{channel_id}").status_code == 404


def test_routing_rules_are_listed_and_edited(admin_api, slack_body):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    created = admin_api.post(
        "/routing-rules",
        {"name": "db to slack", "categories": ["database"], "channels": [channel_id]},
    )
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    patched = admin_api.client_patch(f"/routing-rules/{rule_id}", {"severities": ["critical"]})
    assert patched.status_code == 200, patched.content
    assert patched.json()["channels"] == [channel_id]
    assert patched.json()["categories"] == ["database"]
    assert RoutingRule.objects.get().severities == ["critical"]
    assert [r["name"] for r in admin_api.get("/routing-rules").json()] == ["db to slack"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "r", "severities": ["dire"]}, "severities: unknown ['dire']"),
        ({"name": "r", "channels": [999]}, "channels: no channel [999]"),
        ({"name": "r", "channel_kinds": ["fax"]}, "channel_kinds: unknown ['fax']"),
    ],
)
def test_bad_routing_rules_are_refused(admin_api, body, message):
    response = admin_api.post("/routing-rules", body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_the_delivery_log_filters_by_status_and_channel(
    admin_api, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    from tests.notifications.receivers import Receiver

    gone = Receiver(default=(410, {}, b"gone"))
    try:
        good = make_channel("webhook", "good", receiver=receiver)
        make_channel("webhook", "bad", receiver=gone)
        fire(django_capture_on_commit_callbacks)
    finally:
        gone.stop()
    failed = admin_api.get("/notifications", {"status": "failed"}).json()
    assert failed["count"] == 1
    item = failed["items"][0]
    assert item["channel"] == "bad" and item["response_code"] == 410
    assert item["last_error"] == "HTTP 410: gone"
    by_channel = admin_api.get("/notifications", {"channel": good.pk}).json()["items"]
    # The alert, then the alert about the failing channel: both reached the good one.
    assert [row["status"] for row in by_channel] == ["sent", "sent"]
    assert admin_api.get("/notifications", {"status": "lost"}).status_code == 400


def test_a_failed_message_can_be_resent(
    admin_api, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.answer((400, {}, b"bad"))
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get(alert__alert_type="disk_full")
    assert notification.status == DeliveryStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"/notifications/{notification.pk}/resend")
    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT
    assert admin_api.post("/notifications/99999/resend").status_code == 404


def test_each_kinds_schema_names_the_keys_its_notifier_reads():
    from notifications.models import ChannelKind
    from notifications.notifiers import notifier
    from notifications.schema import SETTINGS

    assert set(SETTINGS) == set(ChannelKind.values)
    for kind, (config, secrets) in SETTINGS.items():
        assert set(config.model_fields) == set(notifier(kind).CONFIG), kind
        assert set(secrets.model_fields) == set(notifier(kind).SECRETS), kind


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "kind": "log", "config": {"colour": "red"}}, "config.colour is not a log"),
        ({"name": "x", "kind": "log", "secrets": {"token": "t"}}, "secrets.token is not a log"),
        ({"name": "x", "kind": "email", "config": {"port": 70000}}, "config.port"),
        ({"name": "x", "config": {}}, "kind is required"),
    ],
)
def test_settings_are_typed_per_kind(admin_api, body, message):
    response = admin_api.post("/channels", body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_a_patch_checks_settings_against_the_channels_kind(admin_api, slack_body):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    response = admin_api.client_patch(f"/channels/{channel_id}", {"config": {"level": "info"}})
    assert response.status_code == 422
    assert "config.level is not a slack setting" in response.json()["detail"]
    response = admin_api.client_patch(f"/channels/{channel_id}", {"config": {"timeout": -1}})
    assert response.status_code == 422
    assert "config.timeout" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"config": {"colour": "red"}}, "config: colour is not a setting of any kind of channel"),
        (
            {"config": {"webhook_url": "x"}},
            "config: webhook_url is a secret: put it in secrets, not config",
        ),
        (
            {"secrets": {"timeout": 5}},
            "secrets: timeout is a setting: put it in config, not secrets",
        ),
        (
            {"config": {"level": "info", "port": 25}},
            "config: no kind of channel takes all of level, port",
        ),
        ({"config": "timeout=5"}, "config: Input should be an object"),
        ({"config": {"timeout": 0}}, "config.timeout: Input should be greater than 0"),
        ({"kind": "email"}, "kind: Extra inputs are not permitted"),
    ],
)
def test_a_patch_that_no_kind_could_take_is_refused_in_one_line(
    admin_api, slack_body, body, message
):
    channel_id = admin_api.post("/channels", slack_body).json()["id"]
    response = admin_api.client_patch(f"/channels/{channel_id}", body)
    assert response.status_code == 422
    assert response.json()["detail"] == message


def test_a_patch_replaces_config_with_the_keys_it_sends_and_merges_secrets(admin_api, receiver):
    body = {
        "name": "pager",
        "kind": "telegram",
        "config": {"chat_id": -1001, "parse_mode": "HTML", "timeout": 4},
        "secrets": {"bot_token": "123:ABC"},
        "min_severity": "warning",
    }
    channel_id = admin_api.post("/channels", body).json()["id"]
    response = admin_api.client_patch(
        f"/channels/{channel_id}", {"config": {"chat_id": "@ops"}, "enabled": False}
    )
    assert response.status_code == 200, response.content
    channel = NotificationChannel.objects.get()
    # Only the key sent: the others are not stored as null (a notifier reads "unset").
    assert channel.config == {"chat_id": "@ops"}
    assert channel.secrets == {"bot_token": "123:ABC"}
    assert channel.min_severity == "warning" and not channel.enabled
    assert response.json()["config"] == {"chat_id": "@ops"}


def test_the_patch_body_lists_each_kinds_settings():
    from notifications.models import ChannelKind
    from notifications.schema import NAMES
    from opsconsole.api import api

    schemas = api.get_openapi_schema()["components"]["schemas"]
    properties = schemas["ChannelPatch"]["properties"]
    for half, suffix in (("config", "Config"), ("secrets", "Secrets")):
        refs = [one["$ref"].rsplit("/", 1)[1] for one in properties[half]["anyOf"] if "$ref" in one]
        assert refs == [f"{NAMES[kind]}{suffix}" for kind in ChannelKind.values]
    email = schemas["EmailConfig"]["properties"]
    assert email["port"]["anyOf"][0] == {"maximum": 65535, "minimum": 1, "type": "integer"}
    # Every key of every kind says what it is.
    for kind in ChannelKind.values:
        for suffix in ("Config", "Secrets"):
            for key, spec in schemas[f"{NAMES[kind]}{suffix}"]["properties"].items():
                assert spec.get("description"), (kind, key)
