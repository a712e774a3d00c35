"""Anything apprise speaks (Microsoft Teams, Matrix, ntfy, ...), from one apprise URL.

Apprise URLs carry their own schemes (``msteams://``, ``matrixs://``) and credentials,
so the URL is a secret and the SSRF guard, written for http(s), does not apply: only
admins can create channels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.notifiers import DeliveryError
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

CONFIG = ()
SECRETS = ("url",)
REQUIRED = ("url",)
URL_KEYS = ()
RATE_PER_MINUTE = 30

_TYPES = {"info": "info", "warning": "warning", "error": "failure", "critical": "failure"}


def check(config: dict, secrets: dict) -> list[str]:
    import apprise as apprise_lib

    if not apprise_lib.Apprise().add(secrets["url"]):
        return ["secrets.url is not an apprise URL apprise understands"]
    return []


def render(message: Message) -> tuple[str, str]:
    lines = [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts()]
    lines += ["", message.link]
    return message.headline, "\n".join(lines)


def send(channel: NotificationChannel, message: Message) -> None:
    import apprise as apprise_lib

    sender = apprise_lib.Apprise()
    if not sender.add(channel.secrets["url"]):
        raise DeliveryError("the apprise URL is not understood", permanent=True)
    title, body = render(message)
    kind = "success" if message.resolved else _TYPES.get(message.severity, "info")
    # apprise reports only success or failure, so every failure is worth a retry.
    if not sender.notify(title=title, body=body, notify_type=kind):
        raise DeliveryError("apprise could not deliver the message")
    return None
