"""Generic webhooks: the alert as JSON, signed with HMAC-SHA256 when a secret is set.

The receiver checks ``X-OpsConsole-Signature: sha256=<hex>`` over
``<X-OpsConsole-Timestamp>.<body>`` with the shared secret, and can drop duplicates
by ``Idempotency-Key``.

Extra request headers (``secrets.headers``, ``{"Authorization": "Bearer ..."}``) are
secrets, every value of them: receivers authenticate by header, and which header
carries a credential is theirs to choose, so the console cannot tell by the name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING

from notifications.notifiers import post
from notifications.notifiers.message import Message

if TYPE_CHECKING:
    from notifications.models import NotificationChannel

CONFIG = ("timeout",)
# The URL is a secret too: many receivers put their token in it.
SECRETS = ("url", "signing_secret", "headers")
REQUIRED = ("url",)
URL_KEYS = ("url",)
RATE_PER_MINUTE = 0


def render(message: Message) -> dict:
    body = {
        "event": message.transition,
        "alert": {
            "id": message.alert_id,
            "title": message.title,
            "message": message.text,
            "severity": message.severity,
            "category": message.category,
            "status": message.status,
            "resource": message.resource,
            "fingerprint": message.fingerprint,
            "labels": message.labels,
            "value": message.value,
            "threshold": message.threshold,
            "occurrences": message.count,
            "first_seen": message.first_seen.isoformat() if message.first_seen else None,
            "last_seen": message.last_seen.isoformat() if message.last_seen else None,
            "metadata": message.metadata,
            "recommendations": message.recommendations,
            "stack_trace": message.stack_trace,
            "url": message.link,
        },
        "host": message.host,
        "sent_at": message.sent_at.isoformat(),
    }
    if message.group is not None:
        group = message.group
        body["group"] = {
            "key": group["key"],
            "rule": group["rule"],
            "labels": group["labels"],
            "firing_count": group["firing_count"],
            "new_count": group["new_count"],
            "resolved_count": group["resolved_count"],
            "alerts": group["alerts"],
            "resolved_alerts": group["resolved_alerts"],
            "url": message.link,
        }
    return body


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def check(config: dict, secrets: dict) -> list[str]:
    headers = secrets.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(name, str) and name.strip() and isinstance(value, str)
        for name, value in headers.items()
    ):
        return ['secrets.headers must be an object of strings: {"Authorization": "Bearer ..."}']
    return []


def send(channel: NotificationChannel, message: Message) -> int:
    body = json.dumps(render(message), default=str).encode()
    timestamp = str(int(time.time()))
    headers = {
        **(channel.secrets.get("headers") or {}),
        "Content-Type": "application/json",
        "X-OpsConsole-Timestamp": timestamp,
        "X-OpsConsole-Event": message.transition,
    }
    if message.idempotency_key:
        headers["Idempotency-Key"] = message.idempotency_key
    secret = channel.secrets.get("signing_secret")
    if secret:
        headers["X-OpsConsole-Signature"] = signature(secret, timestamp, body)
    return post(channel, channel.secrets["url"], content=body, headers=headers).status_code
