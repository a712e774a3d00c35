"""The notifications app's series on ``/metrics`` and its row of the Grafana dashboard:
messages per channel by outcome, the outbox backlog, open circuits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from notifications.models import WAITING_STATUSES, Notification, NotificationChannel

# Outcomes counted per channel; the rest (pending, sending, retrying) is the backlog.
OUTCOMES = ("sent", "failed", "dead", "cancelled")


def notification_series() -> Iterable[Metric]:
    """Messages per channel by outcome, the outbox backlog, and open circuits.

    Counted from the outbox rows, which every worker writes, so each scrape sees the
    deliveries of all workers; the counts are totals over the rows kept."""
    channels = list(NotificationChannel.objects.values_list("pk", "name", "kind"))
    counts = {
        (row["channel_id"], row["status"]): row["n"]
        for row in Notification.objects.filter(status__in=OUTCOMES)
        .values("channel_id", "status")
        .annotate(n=Count("id"))
    }
    total = CounterMetricFamily(
        "opsconsole_notifications",
        "Notifications by channel and outcome: sent, failed (permanent), dead (retries "
        "exhausted), cancelled.",
        labels=["channel", "kind", "outcome"],
    )
    for pk, name, kind in channels:
        # Zeros included, so a channel's series exist before its first failure.
        for outcome in OUTCOMES:
            total.add_metric([name, kind, outcome], counts.get((pk, outcome), 0))

    now = timezone.now()
    waiting = Notification.objects.filter(status__in=[*WAITING_STATUSES, "sending"])
    by_status = dict(waiting.values_list("status").annotate(n=Count("id")).order_by())
    backlog = GaugeMetricFamily(
        "opsconsole_notification_outbox",
        "Messages not yet delivered, by status (pending, retrying, sending).",
        labels=["status"],
    )
    for status in ("pending", "retrying", "sending"):
        backlog.add_metric([status], by_status.get(status, 0))
    oldest = Notification.objects.filter(status__in=WAITING_STATUSES).aggregate(
        oldest=Min("created")
    )["oldest"]
    age = GaugeMetricFamily(
        "opsconsole_notification_outbox_oldest_age_seconds",
        "Age of the oldest message waiting to be delivered (pending or retrying); 0 if none.",
    )
    age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
    circuits = GaugeMetricFamily(
        "opsconsole_notification_circuit_open",
        "1 while the channel's circuit breaker holds its messages back.",
        labels=["channel", "kind"],
    )
    open_ids = set(
        NotificationChannel.objects.filter(circuit_open_until__gt=now).values_list("pk", flat=True)
    )
    for pk, name, kind in channels:
        circuits.add_metric([name, kind], 1 if pk in open_ids else 0)
    yield from (total, backlog, age, circuits)


def grafana_panels() -> list:
    """The Notifications row of the exported Grafana dashboard."""
    from opsconsole.grafana import Panel

    return [
        Panel(
            "Notifications per channel",
            [
                (
                    "sum by (channel, outcome) (increase(opsconsole_notifications_total"
                    '{outcome=~"sent|failed|dead"}[15m]))',
                    "{{channel}} {{outcome}}",
                )
            ],
            row="Notifications",
            description="Messages sent, refused (failed) and given up (dead) in 15 minutes.",
        ),
        Panel(
            "Outbox backlog",
            [
                ("sum(opsconsole_notification_outbox)", "waiting"),
                ('opsconsole_notification_outbox{status="retrying"}', "retrying"),
            ],
            row="Notifications",
            description="Messages not yet delivered; a growing line means workers or a "
            "channel cannot keep up.",
        ),
        Panel(
            "Oldest waiting message",
            [("opsconsole_notification_outbox_oldest_age_seconds", "age")],
            "s",
            row="Notifications",
            kind="stat",
            width=6,
        ),
        Panel(
            "Open circuits",
            [("opsconsole_notification_circuit_open == 1", "{{channel}}")],
            row="Notifications",
            kind="stat",
            width=6,
            description="Channels whose breaker is holding messages back after repeated failures.",
        ),
    ]
