"""The console itself: a live toast on every open page (the ``notifications`` group)."""

from __future__ import annotations

from notifications.notifiers.message import Message
from opsconsole.live import publish_now

GROUP = "notifications"
CONFIG = ()
SECRETS = ()
REQUIRED = ()
URL_KEYS = ()
RATE_PER_MINUTE = 0


def render(message: Message) -> dict:
    return {
        "type": "notification.created",
        "headline": message.headline,
        "text": message.text,
        "severity": message.severity,
        "transition": message.transition,
        "alert_id": message.alert_id,
        "url": message.link,
    }


def send(channel, message: Message) -> None:
    publish_now(GROUP, render(message))
    return None
