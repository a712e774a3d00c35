"""PagerDuty Events API v2: trigger and resolve, deduplicated by the alert's fingerprint,
so a retried or repeated trigger never opens a second incident."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.notifiers import post
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CONFIG = ("url", "component", "group", "timeout")
SECRETS = ("routing_key",)
REQUIRED = ("routing_key",)
URL_KEYS = ("url",)
RATE_PER_MINUTE = 120  # PagerDuty: 120 events a minute per routing key


def render(message: Message, routing_key: str, config: dict) -> dict:
    dedup_key = (
        message.dedup_key or message.fingerprint or message.idempotency_key or "opsconsole-test"
    )
    if message.resolved:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    details = {
        "message": message.text,
        "status": message.status,
        "occurrences": message.count,
        "labels": message.labels,
        "metadata": message.metadata,
        "recommendations": message.recommendations,
    }
    if message.value is not None:
        details["value"] = message.value
        details["threshold"] = message.threshold
    if message.stack_trace:
        details["stack_trace"] = message.stack_trace
    if message.group is not None:
        details["alerts"] = message.group["alerts"]
        details["firing"] = message.group["firing_count"]
        details["resolved"] = message.group["resolved_count"]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": message.headline[:1024],
            "source": message.resource or message.host or "opsconsole",
            "severity": message.severity,
            "timestamp": (message.first_seen or message.sent_at).isoformat(),
            "component": config.get("component") or message.resource or None,
            "group": config.get("group") or None,
            "class": message.category or None,
            "custom_details": details,
        },
        "links": [{"href": message.link, "text": "Open in OpsConsole"}],
        "client": "OpsConsole",
        "client_url": message.link,
    }


def send(channel: NotificationChannel, message: Message) -> int:
    body = render(message, channel.secrets["routing_key"], channel.config)
    return post(channel, channel.config.get("url") or EVENTS_URL, json=body).status_code
