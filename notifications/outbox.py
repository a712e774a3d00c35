"""The outbox's own small rules, shared by per-alert routing and alert groups: writing
message rows once (their idempotency key), and having them sent."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from alerts.constants import SEVERITY_RANK, Severity
from notifications.models import DeliveryStatus, Notification, NotificationChannel

# With NOTIFY_INLINE, what sends rows in this process: notifications.delivery's
# deliver_batch, set from the app's ready(). Delivery sits above the outbox (its sweep
# flushes groups and routes repeats, which write here), so the outbox does not import it.
_send_now: Callable[[list[int]], object] | None = None


def send_inline_with(sender: Callable[[list[int]], object]) -> None:
    global _send_now
    _send_now = sender


def schedule_delivery(ids: list[int]) -> None:
    """Make these rows' delivery happen once they are committed.

    The delivery lane finds due rows in the outbox by itself, most urgent first, so
    nothing needs enqueueing: a row committed is a row that will be sent. With
    ``NOTIFY_INLINE`` (the tests, one-off scripts) this process sends them on commit.
    """
    if settings.NOTIFY_INLINE and ids and _send_now is not None:
        send = _send_now
        transaction.on_commit(lambda: send(list(ids)))


def urgency_of(severity: str) -> int:
    return SEVERITY_RANK[Severity(severity)]


def listed(value) -> list | None:
    """A metadata list as routing reads it: any caller may have stored a lone name or
    number (the API takes any metadata), which must not stop the alert's routing."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return [v for v in value if isinstance(v, (str, int)) and not isinstance(v, bool)]
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else []


def insert(rows: list[Notification], now) -> list[int]:
    if not rows:
        return []
    # The routing table may be a second old: a channel deleted meanwhile in another
    # process would fail the whole alert change at commit (a deferred foreign key).
    existing = set(
        NotificationChannel.objects.filter(pk__in={row.channel_id for row in rows}).values_list(
            "pk", flat=True
        )
    )
    rows = [row for row in rows if row.channel_id in existing]
    if not rows:
        return []
    # A second routing of the same change (a retried transaction, two sweepers) meets
    # the unique idempotency key and adds nothing.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if not settings.NOTIFY_INLINE:
        # The delivery lane finds the rows itself: nobody needs their ids.
        return []
    keys = [row.idempotency_key for row in rows]
    return list(
        Notification.objects.filter(
            idempotency_key__in=keys, status=DeliveryStatus.PENDING, created__gte=now
        )
        .filter(enqueued_at__isnull=False)
        .values_list("pk", flat=True)
    )


def takes(channel, alert, severity: str | None = None) -> bool:
    """Whether a channel takes this alert (at ``severity``, default its own): at or
    above the channel's minimum severity, and not a channel the alert excludes (the
    alert about a failing channel excludes that channel)."""
    rank = SEVERITY_RANK[Severity(severity or alert.severity)]
    if rank < SEVERITY_RANK[Severity(channel.min_severity)]:
        return False
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    return channel.pk not in set(listed(metadata.get("exclude_channels")) or ())
