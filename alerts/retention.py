"""Seed 002's hourly "Data Cleanup ... removes old metrics and resolved alerts".

Alerts closed (resolved or expired) more than ``ALERT_RETENTION_DAYS`` ago are deleted
with their timeline and their delivery records (the outbox rows cascade from the alert:
this app never names the notifications app), in batches of ``BATCH`` alerts, each its
own short transaction. Open and acknowledged alerts are kept however old, and so are
suppressed ones: they are still someone's business. Timeline notes that belong to no
alert (a rule's "pending", "in cooldown") older than the cut-off go too.

The pattern statistics (``AlertService.get_alert_patterns``) never look further back than
this period, so what they count is what is still stored.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.constants import Status
from alerts.models import Alert, AlertEvent

BATCH = 500
CLOSED = (Status.RESOLVED, Status.EXPIRED)


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.ALERT_RETENTION_DAYS)


def run_retention(now: datetime | None = None) -> dict:
    """Delete what is past the retention period; returns the counts deleted."""
    before = cutoff(now)
    # Served by alert_status_recent (status, -last_seen): a closed alert's last
    # occurrence is no later than its closing, so last_seen narrows the scan and
    # resolved_at decides.
    expired = Alert.objects.filter(status__in=CLOSED, last_seen__lt=before).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__lt=before)
    )
    counts: Counter[str] = Counter()
    while True:
        ids = list(expired.values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        with transaction.atomic():
            _, by_model = Alert.objects.filter(pk__in=ids).delete()
        counts.update(by_model)
        if len(ids) < BATCH:
            break
        time.sleep(0.01)  # let writers in between batches
    notes = 0
    while True:
        ids = list(
            AlertEvent.objects.filter(alert__isnull=True, created__lt=before).values_list(
                "pk", flat=True
            )[: BATCH * 10]
        )
        if not ids:
            break
        notes += AlertEvent.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < BATCH * 10:
            break
    return {
        "alerts": counts.get("alerts.Alert", 0),
        "events": counts.get("alerts.AlertEvent", 0),
        "deliveries": counts.get("notifications.Notification", 0),
        "notes": notes,
    }
