"""Every channel kind against a real receiver on loopback: what arrives, in its format."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from notifications.models import DeliveryStatus, Notification
from notifications.notifiers import telegram
from tests.notifications.helpers import fire, resolve

pytestmark = pytest.mark.django_db

LINK_PREFIX = "https://ops.example.com/alerts/"


def test_it_posts_slack_blocks_with_a_link_to_the_alert(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("slack", receiver=receiver)
    alert = fire(django_capture_on_commit_callbacks, title="Disk <full> & db-01")
    body = receiver.requests[0].json
    assert receiver.requests[0].path == "/hook/T000/SECRET-PATH-1234"
    assert body["blocks"][0]["text"]["text"] == "[CRITICAL] Disk <full> & db-01"
    assert "Disk / is at 97%" in body["blocks"][1]["text"]["text"]
    button = body["blocks"][-1]["elements"][0]
    assert button["url"] == f"{LINK_PREFIX}{alert.pk}/"
    # mrkdwn fields escape Slack's control characters.
    assert "&lt;" not in body["blocks"][0]["text"]["text"]
    assert Notification.objects.get().status == DeliveryStatus.SENT


def test_it_sends_discord_an_embed_coloured_by_severity(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("discord", receiver=receiver)
    alert = fire(django_capture_on_commit_callbacks, message="@everyone disk is full")
    body = receiver.requests[0].json
    embed = body["embeds"][0]
    assert embed["color"] == 0xE74C3C
    assert embed["url"] == f"{LINK_PREFIX}{alert.pk}/"
    assert embed["description"] == "@everyone disk is full"
    assert body["allowed_mentions"] == {"parse": []}
    assert {"name": "Resource", "value": "db-01", "inline": True} in embed["fields"]


def test_it_sends_telegram_html_with_the_alert_text_escaped(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("telegram", receiver=receiver)
    fire(django_capture_on_commit_callbacks, message="load <b>9</b> & rising")
    request = receiver.requests[0]
    assert request.path == "/bot123456:BOT-TOKEN-SECRET/sendMessage"
    assert request.json["parse_mode"] == "HTML"
    assert "load &lt;b&gt;9&lt;/b&gt; &amp; rising" in request.json["text"]
    assert request.json["chat_id"] == "-1001234"


def test_it_sends_telegram_markdown_v2_when_asked(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("telegram", receiver=receiver, config={"parse_mode": "MarkdownV2"})
    alert = fire(django_capture_on_commit_callbacks, message="cpu_load (1m) = 9.5!")
    body = receiver.requests[0].json
    assert body["parse_mode"] == "MarkdownV2"
    assert r"cpu\_load \(1m\) \= 9\.5\!" in body["text"]
    assert f"[Open in OpsConsole]({LINK_PREFIX}{alert.pk}/)" in body["text"]


def test_markdown_v2_escapes_every_reserved_character():
    escaped = telegram.escape_markdown_v2("a_b*c[d](e)~f`g>h#i+j-k=l|m{n}o.p!q\\r")
    assert escaped == r"a\_b\*c\[d\]\(e\)\~f\`g\>h\#i\+j\-k\=l\|m\{n\}o\.p\!q\\r"


def test_it_triggers_and_resolves_pagerduty_with_the_fingerprint_as_dedup_key(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("pagerduty", receiver=receiver, config={"component": "postgres"})
    alert = fire(django_capture_on_commit_callbacks)
    resolve(django_capture_on_commit_callbacks, alert)
    trigger, resolved = (r.json for r in receiver.requests)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == alert.fingerprint
    assert trigger["routing_key"] == "R0UTINGKEY00000000000000000000"
    payload = trigger["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "db-01"
    assert payload["component"] == "postgres"
    assert payload["custom_details"]["value"] == 97.0
    assert trigger["links"][0]["href"] == f"{LINK_PREFIX}{alert.pk}/"
    assert resolved == {
        "routing_key": "R0UTINGKEY00000000000000000000",
        "event_action": "resolve",
        "dedup_key": alert.fingerprint,
    }


def test_it_signs_webhook_bodies_with_hmac_sha256(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver, secrets={"signing_secret": "s3cret"})
    alert = fire(django_capture_on_commit_callbacks)
    request = receiver.requests[0]
    expected = hmac.new(
        b"s3cret",
        request.headers["x-opsconsole-timestamp"].encode() + b"." + request.body,
        hashlib.sha256,
    ).hexdigest()
    assert request.headers["x-opsconsole-signature"] == f"sha256={expected}"
    assert request.json["event"] == "firing"
    assert request.json["alert"]["url"] == f"{LINK_PREFIX}{alert.pk}/"
    notification = Notification.objects.get()
    assert request.headers["idempotency-key"] == notification.idempotency_key


def test_it_texts_through_the_twilio_sdk_in_one_short_line(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    receiver.default = (201, {"Content-Type": "application/json"}, b'{"sid": "SM1"}')
    make_channel("sms", receiver=receiver, min_severity="critical")
    alert = fire(django_capture_on_commit_callbacks, title="Primary Postgres down " * 10)
    request = receiver.requests[0]
    assert request.path == f"/2010-04-01/Accounts/AC{'0' * 32}/Messages.json"
    form = request.form
    assert form["To"] == "+15550000002" and form["From"] == "+15550000001"
    assert len(form["Body"]) <= 160
    assert form["Body"].startswith("[CRITICAL] Primary Postgres down")
    assert form["Body"].endswith(f"{LINK_PREFIX}{alert.pk}/")
    assert request.headers["authorization"].startswith("Basic ")


def test_sms_channels_are_for_critical_alerts_unless_told_otherwise(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    from notifications.channels import default_min_severity

    assert default_min_severity("sms") == "critical"
    make_channel("sms", receiver=receiver, min_severity=default_min_severity("sms"))
    fire(django_capture_on_commit_callbacks, priority="error")
    assert receiver.requests == []


def test_it_emails_html_and_text_through_smtp(
    make_channel, route_all, smtp, django_capture_on_commit_callbacks
):
    make_channel(
        "email",
        config={"to": ["ops@example.com"], "host": "127.0.0.1", "port": smtp.port},
    )
    alert = fire(django_capture_on_commit_callbacks, message="Disk <97%>")
    envelope, message = smtp.messages[0]
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert message["Subject"] == "[CRITICAL] Disk almost full - db-01"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert "Disk <97%>" in parts["text/plain"]
    assert "Disk &lt;97%&gt;" in parts["text/html"]
    assert f"{LINK_PREFIX}{alert.pk}/" in parts["text/plain"]
    assert f'href="{LINK_PREFIX}{alert.pk}/"' in parts["text/html"]


def test_email_goes_through_the_environments_smtp_relay_even_on_localhost(
    settings, make_channel, route_all, smtp, django_capture_on_commit_callbacks
):
    settings.NOTIFY_ALLOWED_HOSTS = []
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
    make_channel("email", config={"to": ["ops@example.com"]})
    fire(django_capture_on_commit_callbacks)
    assert [envelope.rcpt_tos for envelope, _ in smtp.messages] == [["ops@example.com"]]


def test_an_smtp_server_named_in_the_channel_is_checked_like_a_url(settings, make_channel):
    from notifications.channels import ChannelError, save_channel

    settings.NOTIFY_ALLOWED_HOSTS = []
    with pytest.raises(ChannelError, match="non-public address"):
        save_channel(
            name="mail", kind="email", config={"to": ["a@example.com"], "host": "10.0.0.2"}
        )


def test_it_shows_dashboard_messages_live(
    make_channel, route_all, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    assert layer is not None
    channel_name = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("notifications", channel_name)
    make_channel("dashboard")
    alert = fire(django_capture_on_commit_callbacks)
    event = async_to_sync(layer.receive)(channel_name)
    assert event["type"] == "notification.created"
    assert event["alert_id"] == alert.pk
    assert event["url"] == f"{LINK_PREFIX}{alert.pk}/"


def test_it_reaches_other_services_through_an_apprise_url(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("apprise", secrets={"url": f"json://127.0.0.1:{receiver.port}/apprise"})
    fire(django_capture_on_commit_callbacks)
    body = receiver.requests[0].json
    assert body["title"] == "[CRITICAL] Disk almost full - db-01"
    assert "https://ops.example.com/alerts/" in body["message"]
