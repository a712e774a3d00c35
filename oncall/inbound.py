"""Answers from outside: Slack's interactive buttons and Twilio's inbound SMS.

Slack signs each request: ``v0=`` + HMAC-SHA256 of ``v0:<timestamp>:<raw body>`` with
the app's signing secret, in ``X-Slack-Signature``, and the timestamp in
``X-Slack-Request-Timestamp``. A request older or newer than five minutes is refused,
and so is one whose signature was already answered (a replay within the window: the
signatures seen are kept in the database, shared by every web process, for the
window's length). The person acting is the console user whose verified Slack contact
method is the clicking member; the button's value is the message's signed token,
which names the alert and the action.

Twilio signs each webhook with the account's auth token (``X-Twilio-Signature``),
checked with the twilio SDK's ``RequestValidator`` against the address Twilio was
told to call (``PUBLIC_URL`` + the path) and the posted fields. "1" or "ack"
acknowledges, "2" or "resolve" resolves, the open alert last paged to that number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from xml.sax.saxutils import escape

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.constants import OPEN_STATUSES
from notifications.models import ChannelKind, DeliveryStatus, Notification, NotificationChannel
from oncall import actions, links
from oncall.models import ContactKind, ContactMethod, SlackRequestSeen

SLACK_WINDOW = 300
ACK_WORDS = {"1", "ack", "acknowledge", "ok"}
RESOLVE_WORDS = {"2", "resolve", "resolved", "fixed"}


@dataclass
class Answer:
    status: int
    text: str


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def check_slack(headers, body: bytes, now: float | None = None) -> str:
    """Why this request is not Slack's ("" when it is, and new)."""
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        return "Slack's signing secret is not configured (SLACK_SIGNING_SECRET)"
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return "no request timestamp"
    if age > SLACK_WINDOW:
        return "the request is older than five minutes"
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), signature):
        return "bad signature"
    cutoff = timezone.now() - timedelta(seconds=2 * SLACK_WINDOW)
    SlackRequestSeen.objects.filter(at__lt=cutoff).delete()
    try:
        with transaction.atomic():
            SlackRequestSeen.objects.create(signature=signature[:80], at=timezone.now())
    except IntegrityError:
        return "this request was answered already (a replay)"
    return ""


def slack_action(body: bytes, form) -> Answer:
    """Act on a verified block_actions payload."""
    try:
        payload = json.loads(form.get("payload", ""))
        member = str(payload["user"]["id"])
        action = payload["actions"][0]
        token = str(action["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return Answer(400, "not a button press")
    try:
        grant = links.read(token)
    except links.BadLink as exc:
        return Answer(200, f"Nothing done: {exc}.")
    method = (
        ContactMethod.objects.filter(
            kind=ContactKind.SLACK, address=member, verified_at__isnull=False, user__is_active=True
        )
        .select_related("user")
        .first()
    )
    if method is None:
        return Answer(200, "Nothing done: your Slack account is not linked to a console user.")
    wanted = str(action.get("action_id", "")).removeprefix("opsconsole_")
    if wanted != grant.action:
        return Answer(200, "Nothing done: the button does not match its action.")
    outcome = actions.perform(grant.action, grant.alert_id, method.user, via="Slack")
    return Answer(200, outcome.detail[:1].upper() + outcome.detail[1:] + ".")


def public_url(path: str) -> str:
    return settings.PUBLIC_URL + path


def check_twilio(path: str, params: dict, signature: str) -> NotificationChannel | None:
    """The SMS channel whose account signed this webhook, or None."""
    from twilio.request_validator import RequestValidator

    to = params.get("To", "")
    candidates = NotificationChannel.objects.filter(kind=ChannelKind.SMS)
    for channel in candidates:
        if (channel.config or {}).get("from_number") != to:
            continue
        token = (channel.secrets or {}).get("auth_token")
        if token and RequestValidator(token).validate(public_url(path), params, signature):
            return channel
    return None


def sms_reply(params: dict) -> str:
    """What a reply does; the text sent back."""
    word = params.get("Body", "").strip().lower()
    action = "acknowledge" if word in ACK_WORDS else "resolve" if word in RESOLVE_WORDS else ""
    if not action:
        return "Reply 1 (or ACK) to acknowledge, 2 (or RESOLVE) to resolve the last alert."
    methods = list(
        ContactMethod.objects.filter(
            kind=ContactKind.PHONE,
            address=params.get("From", ""),
            verified_at__isnull=False,
            user__is_active=True,
        ).select_related("user")
    )
    if not methods:
        return "This number is not a verified contact method in OpsConsole."
    last = (
        Notification.objects.filter(
            context__contact_method__in=[m.pk for m in methods],
            alert__isnull=False,
            alert__status__in=OPEN_STATUSES,
            status=DeliveryStatus.SENT,
        )
        .order_by("-sent_at", "-pk")
        .first()
    )
    if last is None:
        return "No open alert was sent to this number."
    person = next(m.user for m in methods if m.pk == last.context.get("contact_method"))
    assert last.alert_id is not None  # only pages about an alert are looked up
    outcome = actions.perform(action, last.alert_id, person, via="an SMS reply")
    return outcome.detail[:1].upper() + outcome.detail[1:] + "."


def twiml(text: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(text)}</Message></Response>"
    )
