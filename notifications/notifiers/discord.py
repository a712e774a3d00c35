"""Discord webhooks: one embed per message, coloured by severity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.notifiers import post
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

CONFIG = ("username", "timeout")
SECRETS = ("webhook_url",)
REQUIRED = ("webhook_url",)
URL_KEYS = ("webhook_url",)
RATE_PER_MINUTE = 30  # Discord: 30 messages a minute per webhook

COLOURS = {"info": 0x3498DB, "warning": 0xF1C40F, "error": 0xE67E22, "critical": 0xE74C3C}
RESOLVED_COLOUR = 0x2ECC71


def render(message: Message, username: str = "OpsConsole") -> dict:
    fields = [
        {"name": name, "value": value[:1024], "inline": True} for name, value in message.facts()
    ]
    if message.recommendations and not message.resolved:
        fields.append(
            {
                "name": "What to do",
                "value": "\n".join(f"• {tip}" for tip in message.recommendations[:5])[:1024],
                "inline": False,
            }
        )
    return {
        "username": username,
        # Alert text is data, never a ping to @everyone.
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": message.headline[:256],
                "description": message.text[:4000],
                "url": message.link,
                "color": RESOLVED_COLOUR if message.resolved else COLOURS.get(message.severity, 0),
                "fields": fields[:25],
                "timestamp": message.sent_at.isoformat(),
                "footer": {"text": f"OpsConsole · {message.category or 'test'}"},
            }
        ],
    }


def send(channel: NotificationChannel, message: Message) -> int:
    body = render(message, channel.config.get("username") or "OpsConsole")
    return post(channel, channel.secrets["webhook_url"], json=body).status_code
