from __future__ import annotations

from alerts.service import Alert, AlertService


def spec(**fields) -> Alert:
    values = {
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
