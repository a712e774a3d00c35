"""Acknowledge and Resolve from the message: signed per-alert, per-person links that
land on a confirm page working without a session; Slack's buttons, verified by Slack's
request signature over loopback HTTP; SMS replies verified by Twilio's signature."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.core import signing
from django.utils import timezone
from twilio.request_validator import RequestValidator

from alerts.constants import Status
from alerts.models import Alert
from alerts.service import AlertService
from oncall import inbound, links, people
from oncall.models import SlackRequestSeen
from tests.notifications.helpers import spec

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _page(person, alert, capture):
    now = timezone.now()
    page = people.plan_page(person, alert, key="t", now=now, context={"escalation": 0})
    with capture(execute=True):
        people.write_pages([page], now)


@pytest.mark.django_db
def test_a_page_by_email_carries_links_that_act_without_a_session(
    bob, verified, email_channel, smtp, client, django_capture_on_commit_callbacks
):
    verified(bob, "email")
    alert = AlertService().create_alert(spec())
    _page(bob, alert, django_capture_on_commit_callbacks)
    text = smtp.messages[0][1].as_string()
    urls = re.findall(r"(https://ops\.example\.com/oncall/act/[^/\s]+/)", text)
    ack = next(u for u in urls if links.read(u.rsplit("/", 2)[1]).action == "acknowledge")
    path = ack.removeprefix("https://ops.example.com")
    shown = client.get(path)  # no login
    assert shown.status_code == 200 and "This will be recorded as" in shown.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == Status.ACTIVE  # a GET changes nothing
    done = client.post(path)
    assert done.status_code == 200
    alert.refresh_from_db()
    assert alert.status == Status.ACKNOWLEDGED and alert.acknowledged_by == "bob"
    again = client.post(path)
    assert again.status_code == 409 and "already acknowledged" in again.content.decode()


@pytest.mark.django_db
def test_a_forged_or_expired_link_does_nothing(bob, client, settings):
    alert = AlertService().create_alert(spec())
    token = links.token_for(alert.pk, bob.pk, "resolve")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(f"/oncall/act/{forged}/").status_code == 400
    # Another alert's id in a token signed for this one: the signature no longer holds.
    other = signing.dumps({"a": alert.pk + 1, "u": bob.pk, "x": "resolve"}, salt="elsewhere")
    assert client.post(f"/oncall/act/{other}/").status_code == 400
    settings.ONCALL_LINK_MAX_AGE_HOURS = -1  # every link is past its age
    assert "expired" in client.get(f"/oncall/act/{token}/").content.decode()
    assert client.post(f"/oncall/act/{token}/").status_code == 400
    settings.ONCALL_LINK_MAX_AGE_HOURS = 24
    assert client.post(f"/oncall/act/{token}/").status_code == 200
    alert.refresh_from_db()
    assert alert.status == Status.RESOLVED and alert.resolved_by == "bob"


@pytest.mark.django_db
def test_a_viewer_cannot_act_through_a_link(carol, client):
    alert = AlertService().create_alert(spec())
    answer = client.post(f"/oncall/act/{links.token_for(alert.pk, carol.pk, 'acknowledge')}/")
    assert answer.status_code == 409 and "may not acknowledge" in answer.content.decode()


def _slack_post(url, payload: dict, *, secret=SECRET, timestamp=None, body=None):
    """Post as Slack does: form-encoded payload, signed v0:timestamp:body."""
    body = body if body is not None else urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = inbound.slack_signature(secret, timestamp, body)
    return httpx.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )


@pytest.mark.django_db(transaction=True)
def test_slack_buttons_verified_by_slacks_signature_over_loopback(
    live_server, settings, verified, make_channel, receiver
):
    from django.contrib.auth.models import Group, User

    settings.SLACK_SIGNING_SECRET = SECRET
    bob = User.objects.create_user("bob")
    bob.groups.add(Group.objects.get_or_create(name="Responders")[0])
    verified(bob, "slack", "U0BOB123")
    make_channel("slack", receiver=receiver)
    alert = AlertService().create_alert(spec())
    now = timezone.now()
    page = people.plan_page(bob, alert, key="s", now=now, context={"escalation": 0})
    people.write_pages([page], now)
    sent = receiver.requests[0].json
    buttons = [
        b for block in sent["blocks"] if block["type"] == "actions" for b in block["elements"]
    ]
    ack = next(b for b in buttons if b.get("action_id") == "opsconsole_acknowledge")
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0BOB123"},
        "actions": [{"action_id": ack["action_id"], "value": ack["value"]}],
    }
    url = f"{live_server.url}/oncall/slack/interactive"
    # A bad signature, and one from more than five minutes ago, are refused.
    assert _slack_post(url, payload, secret="not-the-secret").status_code == 401
    assert _slack_post(url, payload, timestamp=int(time.time()) - 301).status_code == 401
    assert Alert.objects.get(pk=alert.pk).status == Status.ACTIVE
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = int(time.time())
    first = _slack_post(url, payload, timestamp=stamp, body=body)
    assert first.status_code == 200, first.text
    assert "acknowledged by bob" in first.json()["text"]
    assert Alert.objects.get(pk=alert.pk).acknowledged_by == "bob"
    # The same signed request again is a replay.
    replay = _slack_post(url, payload, timestamp=stamp, body=body)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]
    assert SlackRequestSeen.objects.count() == 1
    # A member not linked to anyone acts as nobody.
    payload["user"]["id"] = "U0STRANGER"
    stranger = _slack_post(url, payload)
    assert "not linked" in stranger.json()["text"]


def _twilio_post(client, params: dict, token="TWILIO-AUTH-TOKEN"):
    url = "https://ops.example.com/oncall/twilio/sms"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post("/oncall/twilio/sms", params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.django_db
def test_an_sms_reply_acknowledges_the_alert_last_sent_to_that_number(
    bob, verified, make_channel, receiver, client, django_capture_on_commit_callbacks
):
    make_channel("sms", receiver=receiver)
    verified(bob, "phone", "+15557654321")
    older = AlertService().create_alert(spec(resource="db-01"))
    newer = AlertService().create_alert(spec(resource="db-02"))
    _page(bob, older, django_capture_on_commit_callbacks)
    _page(bob, newer, django_capture_on_commit_callbacks)
    assert "Reply 1 to acknowledge" in receiver.requests[-1].form["Body"]
    params = {"From": "+15557654321", "To": "+15550000001", "Body": "ack"}
    assert _twilio_post(client, params, token="wrong").status_code == 403
    answer = _twilio_post(client, params)
    assert answer.status_code == 200 and "acknowledged by bob" in answer.content.decode()
    assert Alert.objects.get(pk=newer.pk).status == Status.ACKNOWLEDGED
    assert Alert.objects.get(pk=older.pk).status == Status.ACTIVE
    unknown = _twilio_post(client, {**params, "From": "+15550009999", "Body": "1"})
    assert "not a verified contact method" in unknown.content.decode()
