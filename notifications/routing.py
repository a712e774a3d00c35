"""Turn alert changes into Notification rows (the outbox), in the alert's transaction.

``on_alert_event`` is called by AlertService for every timeline entry it writes:

- fired, or fired again after a suppression → a *firing* message per routed channel,
  held back until the severity's cooldown has passed if the same fingerprint was sent
  to that channel recently (a flapping alert does not page every minute);
- escalated → an *escalated* message, at once (more severe is more urgent);
- resolved or expired → a *resolved* message to every channel whose firing message
  went out (even if the alert was silenced since), and pending firing messages dropped;
- suppressed or silenced → firing messages not yet sent are dropped; an alert that a
  silence or a dependency held back from the start sends nothing until it is let go
  (*unsuppressed*), which sends its firing message then.

Repeats of an open alert are counted on the alert, not sent; the delivery lane routes
a *repeat* for alerts still active and unacknowledged every ``NOTIFY_REPEAT_INTERVAL``.
Each row carries its alert's severity rank (``urgency``); the delivery lane
(``notifications.dispatcher``) takes due rows from the outbox, most urgent first.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Prefetch
from django.db.models.functions import Coalesce
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from alerts.constants import SEVERITY_RANK, EventKind, Severity, Status
from notifications.models import (
    WAITING_STATUSES,
    ChannelKind,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
)

FIRING_TRANSITIONS = (Transition.FIRING, Transition.REPEAT, Transition.ESCALATED)

# Seed 000's matrix: info/warning → Slack; error → email + Slack; critical → PagerDuty +
# SMS + every channel. (name, severities, kinds, every channel)
DEFAULT_ROUTES = [
    ("Info and warning to Slack", ["info", "warning"], [ChannelKind.SLACK], False),
    ("Errors to email and Slack", ["error"], [ChannelKind.EMAIL, ChannelKind.SLACK], False),
    (
        "Critical to PagerDuty, SMS and every channel",
        ["critical"],
        [ChannelKind.PAGERDUTY, ChannelKind.SMS],
        True,
    ),
]


def load_default_routes() -> list[str]:
    """The default matrix as editable rules, on a console that never had any."""
    if RoutingRule.objects.exists() or Notification.objects.exists():
        return []
    for position, (name, severities, kinds, every) in enumerate(DEFAULT_ROUTES):
        RoutingRule.objects.create(
            name=name,
            position=(position + 1) * 10,
            severities=severities,
            channel_kinds=[str(k) for k in kinds],
            all_channels=every,
        )
    return [f"created routing rule {name!r}" for name, *_ in DEFAULT_ROUTES]


def on_transition(sender, *, alert, event, **kwargs) -> None:
    """The ``alert_transition`` receiver: every timeline entry the pipeline writes."""
    on_alert_event(alert, event)


def on_alert_event(alert, event) -> list[int]:
    """Write the notifications this timeline entry calls for; return their ids."""
    kind = event.kind
    if kind in (EventKind.FIRED, EventKind.UNSUPPRESSED):
        if alert.status == Status.SUPPRESSED:
            return []  # held back by a silence or a dependency: sent when it ends
        # A suppression's end is a firing of its own: keyed by its event, since the
        # alert's count may not have moved since the first message.
        occurrence = f"e{event.pk}" if kind == EventKind.UNSUPPRESSED else None
        ids = _route_firing(alert, Transition.FIRING, cooldown=True, occurrence=occurrence)
    elif kind == EventKind.ESCALATED:
        if alert.status == Status.SUPPRESSED or (event.data or {}).get("held_by"):
            return []  # held back or suppressed: its firing message goes out when let go
        ids = _route_firing(alert, Transition.ESCALATED, cooldown=False)
    elif kind in (EventKind.RESOLVED, EventKind.EXPIRED):
        ids = _route_resolved(alert)
    elif kind in (EventKind.SUPPRESSED, EventKind.SILENCED):
        _cancel_waiting(alert, "silenced before it was sent")
        ids = []
    else:
        return []
    if ids:
        schedule_delivery(ids)
    return ids


def schedule_delivery(ids: list[int]) -> None:
    """Make these rows' delivery happen once they are committed.

    The delivery lane finds due rows in the outbox by itself, most urgent first, so
    nothing needs enqueueing: a row committed is a row that will be sent. With
    ``NOTIFY_INLINE`` (the tests, one-off scripts) this process sends them on commit.
    """
    if settings.NOTIFY_INLINE:
        from notifications.delivery import deliver_batch

        transaction.on_commit(lambda: deliver_batch(list(ids)))


def urgency_of(severity: str) -> int:
    return SEVERITY_RANK[Severity(severity)]


def channels_for(alert, severity: str | None = None) -> list[NotificationChannel]:
    """Enabled channels this alert goes to: the ones it names (seed 000's ``channels``,
    by name or kind), else the routing matrix; each channel's minimum severity holds."""
    severity = severity or alert.severity
    enabled, rules = _routing_table()
    if not enabled:
        return []
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    named = _listed(metadata.get("notification_channels"))
    if named is not None:
        wanted = {str(name).lower() for name in named}
        chosen = [c for c in enabled if c.name.lower() in wanted or c.kind in wanted]
    else:
        chosen = _by_matrix(alert, severity, enabled, rules)
    excluded = set(_listed(metadata.get("exclude_channels")) or ())
    rank = SEVERITY_RANK[Severity(severity)]
    return [
        c
        for c in chosen
        if c.pk not in excluded and rank >= SEVERITY_RANK[Severity(c.min_severity)]
    ]


def _listed(value) -> list | None:
    """A metadata list as routing reads it: any caller may have stored a lone name or
    number (the API takes any metadata), which must not stop the alert's routing."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return [v for v in value if isinstance(v, (str, int)) and not isinstance(v, bool)]
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else []


def _by_matrix(alert, severity: str, enabled: list[NotificationChannel], rules):
    labels = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    chosen: dict[int, NotificationChannel] = {}
    by_id = {c.pk: c for c in enabled}
    for rule, channel_ids in rules:
        if rule.severities and severity not in rule.severities:
            continue
        if rule.categories and alert.category not in rule.categories:
            continue
        if any(labels.get(str(k)) != str(v) for k, v in (rule.label_matchers or {}).items()):
            continue
        for channel in enabled:
            if rule.all_channels or channel.kind in (rule.channel_kinds or ()):
                chosen[channel.pk] = channel
        for channel_id in channel_ids:
            if channel_id in by_id:
                chosen[channel_id] = by_id[channel_id]
    return list(chosen.values())


# The routing table (enabled channels, enabled rules with their channels), kept per
# process for CONFIG_CACHE_SECONDS: a storm routes hundreds of alerts a second, and the
# table changes a few times a day. An edit in this process drops the copy at once;
# another process's copy is at most that old, and delivery checks that a channel is
# still enabled before it sends.
_table_lock = threading.Lock()
_table: tuple[float, list[NotificationChannel], list] | None = None


def _routing_table() -> tuple[list[NotificationChannel], list]:
    global _table
    now = time.monotonic()
    with _table_lock:
        table = _table
    if table is not None and now - table[0] < settings.CONFIG_CACHE_SECONDS:
        return table[1], table[2]
    enabled = list(
        NotificationChannel.objects.filter(enabled=True).only("id", "name", "kind", "min_severity")
    )
    rules = [
        (rule, [c.pk for c in rule.channels.all()])
        for rule in RoutingRule.objects.filter(enabled=True).prefetch_related(
            Prefetch("channels", queryset=NotificationChannel.objects.only("id"))
        )
    ]
    with _table_lock:
        _table = (now, enabled, rules)
    return enabled, rules


def forget_routing_table(**kwargs) -> None:
    global _table
    with _table_lock:
        _table = None


for _model in (NotificationChannel, RoutingRule):
    post_save.connect(forget_routing_table, sender=_model, dispatch_uid=f"routing.{_model}.saved")
    post_delete.connect(
        forget_routing_table, sender=_model, dispatch_uid=f"routing.{_model}.deleted"
    )
m2m_changed.connect(
    forget_routing_table, sender=RoutingRule.channels.through, dispatch_uid="routing.m2m"
)


def _key(alert, channel, transition: str, occurrence) -> str:
    return f"{alert.pk}:{channel.pk}:{transition}:{occurrence}"


def _route_firing(alert, transition: str, *, cooldown: bool, occurrence=None) -> list[int]:
    channels = channels_for(alert)
    if not channels:
        return []
    now = timezone.now()
    held: dict[int, datetime] = {}
    if cooldown:
        seconds = settings.NOTIFY_COOLDOWN_SECONDS.get(alert.severity, 0)
        if seconds:
            recent = (
                Notification.objects.filter(
                    alert__fingerprint=alert.fingerprint,
                    channel__in=channels,
                    transition__in=FIRING_TRANSITIONS,
                    created__gt=now - timedelta(seconds=seconds),
                )
                .exclude(status=DeliveryStatus.CANCELLED)
                .values("channel")
                .annotate(last=Max("created"))
            )
            held = {row["channel"]: row["last"] + timedelta(seconds=seconds) for row in recent}
    rows = [
        Notification(
            alert=alert,
            channel=channel,
            transition=transition,
            idempotency_key=_key(
                alert, channel, transition, occurrence or alert.notification_count
            ),
            next_attempt_at=held.get(channel.pk, now),
            # Sent on commit now; a held one is left to the sweeper when it is due.
            enqueued_at=None if channel.pk in held else now,
            context={"severity": alert.severity},
            urgency=urgency_of(alert.severity),
        )
        for channel in channels
    ]
    return _insert(rows, now)


def _route_resolved(alert) -> list[int]:
    _cancel_waiting(alert, f"alert {alert.status} before it was sent")
    fired = (
        Notification.objects.filter(
            alert=alert,
            transition__in=FIRING_TRANSITIONS,
            status__in=(DeliveryStatus.SENT, DeliveryStatus.SENDING),
        )
        .values_list("channel_id", flat=True)
        .distinct()
    )
    channels = NotificationChannel.objects.filter(pk__in=fired, enabled=True, send_resolved=True)
    now = timezone.now()
    rows = [
        Notification(
            alert=alert,
            channel=channel,
            transition=Transition.RESOLVED,
            idempotency_key=_key(alert, channel, Transition.RESOLVED, 0),
            next_attempt_at=now,
            enqueued_at=now,
            context={"severity": alert.severity},
            urgency=urgency_of(alert.severity),
        )
        for channel in channels
    ]
    return _insert(rows, now)


def _cancel_waiting(alert, reason: str) -> int:
    return Notification.objects.filter(
        alert=alert, transition__in=FIRING_TRANSITIONS, status__in=WAITING_STATUSES
    ).update(status=DeliveryStatus.CANCELLED, last_error=reason, updated=timezone.now())


def _insert(rows: list[Notification], now) -> list[int]:
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


def repeats_due(now: datetime):
    """(alert, channel, last) for active, unacknowledged alerts whose last firing-type
    message to a channel was settled ``NOTIFY_REPEAT_INTERVAL`` ago or more, oldest
    first.

    "Settled" counts a message that failed or ran out of retries too, so one that
    could not be delivered is not asked for again at every sweep; a channel with a
    firing-type message still waiting or being sent gets no repeat on top of it (an
    alert let go after a long silence sends its firing message, not a repeat beside
    it)."""
    cutoff = now - timedelta(seconds=settings.NOTIFY_REPEAT_INTERVAL)
    in_flight = Notification.objects.filter(
        alert_id=OuterRef("alert_id"),
        channel_id=OuterRef("channel_id"),
        transition__in=FIRING_TRANSITIONS,
        status__in=(*WAITING_STATUSES, DeliveryStatus.SENDING),
    )
    return (
        Notification.objects.filter(
            alert__status=Status.ACTIVE,
            transition__in=FIRING_TRANSITIONS,
            status__in=(DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.DEAD),
            channel__enabled=True,
        )
        .filter(~Exists(in_flight))
        .values("alert_id", "channel_id", "alert__severity")
        .annotate(last=Max(Coalesce("sent_at", "updated")))
        .filter(last__lte=cutoff)
        .order_by("last")
    )


def route_repeats(now: datetime | None = None) -> int:
    """Repeat messages for alerts still active and unacknowledged whose last message
    to a channel went out ``NOTIFY_REPEAT_INTERVAL`` ago or more; how many were due."""
    now = now or timezone.now()
    due = repeats_due(now)[:500]
    rows = [
        Notification(
            alert_id=row["alert_id"],
            channel_id=row["channel_id"],
            transition=Transition.REPEAT,
            # One repeat per last send: a second lane in the same spell adds nothing.
            idempotency_key=(
                f"{row['alert_id']}:{row['channel_id']}:repeat:{int(row['last'].timestamp())}"
            ),
            next_attempt_at=now,
            enqueued_at=now,
            urgency=urgency_of(row["alert__severity"]),
        )
        for row in due
    ]
    ids = _insert(rows, now)
    if ids:
        schedule_delivery(ids)
    return len(rows)
