"""Every alert change as JSON on a Redis channel, for subscribers outside the console.

Seed 002 published its alerts to the Redis channel ``alerts``; with ``REDIS_URL`` set
the console does the same for every change the pipeline announces (fired, every
timeline event, and repeats as the live pages see them), on ``ALERT_BROADCAST_CHANNEL``
(``alerts`` by default; empty turns it off). One message (``message_of``)::

    {"version": 1, "type": "alert.fired" | "alert.changed" | "alert.repeated",
     "alert_id": 17, "url": "https://console/alerts/17/",
     "event": {"id": 90, "kind": "acknowledged", "actor": "bob", "reason": "...",
               "at": "<iso>"} | null,
     "fingerprint": "...", "alert_type": "rule_3", "title": "...", "message": "...",
     "severity": "critical", "category": "system", "status": "acknowledged",
     "resource": "web-01", "labels": {...}, "value": 97.1, "threshold": 80.0,
     "count": 4, "first_seen": "<iso>", "last_seen": "<iso>",
     "acknowledged_by": "bob", "resolved_by": "", "suppressed_until": null}

It is sent after commit, from whichever process made the change, through
``opsconsole.redis_bridge`` (short timeouts, paused after a failure), so a Redis that
does not answer never holds an alert back. Delivery is Redis pub/sub's: at most once,
to subscribers connected at that moment; the console's own outbox is what guarantees
notifications.
"""

from __future__ import annotations

from django.conf import settings

from opsconsole import redis_bridge

VERSION = 1


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def message_of(alert, event, *, fired: bool = False) -> dict:
    if fired:
        kind = "alert.fired"
    elif event is not None:
        kind = "alert.changed"
    else:
        kind = "alert.repeated"
    return {
        "version": VERSION,
        "type": kind,
        "alert_id": alert.pk,
        "url": f"{settings.PUBLIC_URL}/alerts/{alert.pk}/",
        "event": None
        if event is None
        else {
            "id": event.pk,
            "kind": event.kind,
            "actor": event.actor,
            "reason": event.reason,
            "at": _iso(event.created),
        },
        "fingerprint": alert.fingerprint,
        "alert_type": alert.alert_type,
        "title": alert.title,
        "message": alert.message,
        "severity": alert.severity,
        "category": alert.category,
        "status": alert.status,
        "resource": alert.resource,
        "labels": alert.labels,
        "value": alert.value,
        "threshold": alert.threshold,
        "count": alert.notification_count,
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "acknowledged_by": alert.acknowledged_by,
        "resolved_by": alert.resolved_by,
        "suppressed_until": _iso(alert.suppressed_until),
    }


def publish(alert, event, *, fired: bool = False) -> bool:
    """Publish one change, if there is a Redis to publish to; never raises."""
    channel = settings.ALERT_BROADCAST_CHANNEL
    if not channel or redis_bridge.client() is None:
        return False
    payload = redis_bridge.dumps(message_of(alert, event, fired=fired))
    return redis_bridge.run(
        f"alert {alert.pk}", lambda redis_client: redis_client.publish(channel, payload)
    )
