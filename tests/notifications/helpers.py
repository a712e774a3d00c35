from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from alerts.service import Alert, AlertService
from notifications import grouping


def spec(**fields: Any) -> Alert:
    values: dict[str, Any] = {
        "alert_type": "disk_full",
        "title": "Disk almost full - db-01",
        "message": "Disk / is at 97% (threshold: 90%)",
        "priority": "critical",
        "category": "system",
        "resource": "db-01",
        "value": 97.0,
        "threshold": 90.0,
        "recommendations": ["Find the largest consumers: du -xh / | sort -h | tail"],
    }
    values.update(fields)
    return Alert(**values)


def fire(capture, **fields):
    """Raise an alert and run what its transaction enqueued (the deliveries)."""
    with capture(execute=True):
        return AlertService().create_alert(spec(**fields))


def resolve(capture, alert, who="bob"):
    with capture(execute=True):
        return AlertService().resolve_alert(alert.pk, resolved_by=who)


def flush_groups(capture=None, seconds: float = 31) -> int:
    """Let alert groups' timers run out ``seconds`` from now (the default routes wait
    30 s for more alerts) and flush them; with ``capture``, send what they wrote."""
    at = timezone.now() + timedelta(seconds=seconds)
    if capture is None:
        return grouping.flush_due(at)
    with capture(execute=True):
        return grouping.flush_due(at)
