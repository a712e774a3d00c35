from __future__ import annotations

from alerts.service import Alert, AlertService


def raise_alert(title="Disk full on db-01", severity="warning", resource="db-01", **extra):
    spec = Alert(
        alert_type=extra.pop("alert_type", title.lower().replace(" ", "_")),
        title=title,
        message=extra.pop("message", f"{title}: details"),
        priority=severity,
        resource=resource,
        **extra,
    )
    return AlertService().create_alert(spec)
