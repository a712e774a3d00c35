"""The delivery lane watched from the monitoring lane: messages that wait far longer
than sending takes mean no lane is running (a deployment that runs only web and
workers), or it cannot keep up. Said once, as an alert that resolves itself."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from alerts import pipeline
from alerts.constants import Category, Severity
from alerts.spec import AlertSpec
from notifications.delivery import waiting

STALL_ALERT = "notifications_stalled"
STALL_RESOURCE = "opsconsole"


def oldest_wait(now: datetime) -> float:
    """Seconds the longest-waiting due message has been due (0 when none)."""
    oldest = waiting(now).order_by("next_attempt_at").values_list("next_attempt_at", flat=True)
    first = oldest.first()
    return (now - first).total_seconds() if first else 0.0


def watch(now: datetime | None = None) -> float:
    """Raise or resolve the stall alert; returns the oldest wait in seconds."""
    now = now or timezone.now()
    waited = oldest_wait(now)
    if waited > settings.NOTIFY_STALL_SECONDS:
        pipeline.raise_alert(
            AlertSpec(
                alert_type=STALL_ALERT,
                title="Notifications are not leaving the console",
                message=(
                    f"The oldest message due has waited {int(waited // 60)} min "
                    f"{int(waited % 60)} s (more than {settings.NOTIFY_STALL_SECONDS} s)"
                ),
                priority=Severity.ERROR,
                category=Category.SYSTEM,
                resource=STALL_RESOURCE,
                value=round(waited, 1),
                threshold=float(settings.NOTIFY_STALL_SECONDS),
                recommendations=[
                    "Check that the delivery lane runs: `manage.py deliver` (serve runs it "
                    "as the 'notify' process)",
                    "Look at the backlog on /metrics (opsconsole_notification_outbox) and "
                    "at the delivery log for a channel that is slow or rate limited",
                ],
            ),
            actor="notifications",
        )
    else:
        pipeline.clear_alert(
            STALL_ALERT, STALL_RESOURCE, actor="notifications", note="messages are leaving again"
        )
    return waited


def watch_args() -> tuple | None:
    """Asked by the ticker: a task only when there is something to raise or resolve."""
    now = timezone.now()
    stalled = oldest_wait(now) > settings.NOTIFY_STALL_SECONDS
    if stalled or pipeline.open_alert(STALL_ALERT, STALL_RESOURCE) is not None:
        return ()
    return None


def stall_interval() -> float:
    return max(10.0, min(60.0, settings.NOTIFY_STALL_SECONDS / 5))
