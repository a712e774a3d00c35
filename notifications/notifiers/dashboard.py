"""The console itself: a live toast on every open page (the ``notifications`` group)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel
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


def send(channel: NotificationChannel, message: Message) -> None:
    publish_now(GROUP, render(message))
    return None
