"""Acknowledge and Resolve from the message: signed, expiring links per alert and
person.

A token is Django's signing of ``{"a": alert, "u": person, "x": action}`` with a
timestamp (HMAC with ``SECRET_KEY`` and this module's salt), so it names the one
alert, the one person and the one action it may perform, and stops working after
``ONCALL_LINK_MAX_AGE_HOURS``. The link lands on a confirm page (a GET never acts:
mail scanners open links) that works without a session and records the action as
that person. Slack's buttons carry the same token as their value.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from notifications.models import ChannelKind, Transition

SALT = "oncall.links"
ACTIONS = {"acknowledge": "Acknowledge", "resolve": "Resolve"}


class BadLink(ValueError):
    pass


@dataclass(frozen=True)
class Grant:
    alert_id: int
    user_id: int
    action: str


def max_age() -> int:
    return int(settings.ONCALL_LINK_MAX_AGE_HOURS * 3600)


def token_for(alert_id: int, user_id: int, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return signing.dumps({"a": alert_id, "u": user_id, "x": action}, salt=SALT)


def read(token: str) -> Grant:
    """The grant a token carries; BadLink when it is forged, damaged or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise BadLink("this link has expired") from None
    except signing.BadSignature:
        raise BadLink("this link is not valid") from None
    try:
        grant = Grant(int(data["a"]), int(data["u"]), str(data["x"]))
    except (KeyError, TypeError, ValueError):
        raise BadLink("this link is not valid") from None
    if grant.action not in ACTIONS:
        raise BadLink("this link is not valid")
    return grant


def url_for(token: str) -> str:
    return settings.PUBLIC_URL + reverse("oncall_act", args=[token])


def add_actions(notification, message) -> None:
    """Acknowledge and Resolve for a page about an alert (not its resolved message)."""
    person = (notification.context or {}).get("person")
    if (
        not person
        or notification.alert_id is None
        or notification.transition == Transition.RESOLVED
    ):
        return
    for action, label in ACTIONS.items():
        token = token_for(notification.alert_id, int(person), action)
        message.actions.append(
            {"action": action, "label": label, "url": url_for(token), "value": token}
        )
    if notification.channel.kind == ChannelKind.SMS:
        message.reply_hint = "Reply 1 to acknowledge, 2 to resolve."
