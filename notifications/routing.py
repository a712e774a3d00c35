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

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.constants import EventKind, Status
from notifications import grouping
from notifications.models import (
    WAITING_STATUSES,
    ChannelKind,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
)
from notifications.outbox import insert, listed, schedule_delivery, takes, urgency_of
from notifications.table import matches, routing_table

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
    if kind in (EventKind.FIRED, EventKind.UNSUPPRESSED, EventKind.ESCALATED):
        if alert.status == Status.SUPPRESSED or (event.data or {}).get("held_by"):
            return []  # held back by a policy: its firing message goes out when let go
        direct, routes = routes_for(alert)
        if kind == EventKind.ESCALATED:
            ids = _route_firing(alert, Transition.ESCALATED, direct, cooldown=False)
        else:
            # A suppression's end is a firing of its own: keyed by its event, since the
            # alert's count may not have moved since the first message.
            occurrence = f"e{event.pk}" if kind == EventKind.UNSUPPRESSED else None
            ids = _route_firing(
                alert, Transition.FIRING, direct, cooldown=True, occurrence=occurrence
            )
        ids += grouping.join(alert, routes, again=kind == EventKind.UNSUPPRESSED)
    elif kind in (EventKind.RESOLVED, EventKind.EXPIRED):
        ids = _route_resolved(alert) + grouping.left(alert)
    elif kind in (EventKind.SUPPRESSED, EventKind.SILENCED):
        _cancel_waiting(alert, "silenced before it was sent")
        ids = []
    else:
        return []
    if ids:
        schedule_delivery(ids)
    return ids


Route = tuple[RoutingRule, list[NotificationChannel]]


def routes_for(alert, severity: str | None = None) -> tuple[list[NotificationChannel], list[Route]]:
    """Where this alert goes: (channels it names itself, routing rules with channels).

    An alert that names its channels (seed 000's ``channels``, by name or kind) goes to
    them at once, alone. Otherwise each matching routing rule gives it the channels no
    earlier rule gave (a channel hears of an alert once), and the alert joins that
    rule's group. Each channel's minimum severity holds either way."""
    severity = severity or alert.severity
    enabled, rules = routing_table()
    if not enabled:
        return [], []
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}

    def wanted(channel) -> bool:
        return takes(channel, alert, severity)

    named = listed(metadata.get("notification_channels"))
    if named is not None:
        names = {str(name).lower() for name in named}
        return [
            c for c in enabled if wanted(c) and (c.name.lower() in names or c.kind in names)
        ], []
    routes: list[Route] = []
    taken: set[int] = set()
    for rule, channels in _by_matrix(alert, severity, enabled, rules):
        mine = [c for c in channels if c.pk not in taken and wanted(c)]
        taken.update(c.pk for c in mine)
        if mine:
            routes.append((rule, mine))
    return [], routes


def channels_for(alert, severity: str | None = None) -> list[NotificationChannel]:
    """Every enabled channel this alert goes to, by itself or through a group."""
    direct, routes = routes_for(alert, severity)
    return direct + [channel for _rule, channels in routes for channel in channels]


def _by_matrix(alert, severity: str, enabled: list[NotificationChannel], rules) -> list[Route]:
    by_id = {c.pk: c for c in enabled}
    found: list[Route] = []
    for rule, channel_ids in rules:
        if matches(rule, alert, severity):
            continue
        chosen = {
            c.pk: c for c in enabled if rule.all_channels or c.kind in (rule.channel_kinds or ())
        }
        chosen.update((pk, by_id[pk]) for pk in channel_ids if pk in by_id)
        found.append((rule, list(chosen.values())))
    return found


def _key(alert, channel, transition: str, occurrence) -> str:
    return f"{alert.pk}:{channel.pk}:{transition}:{occurrence}"


def _route_firing(
    alert, transition: str, channels: list[NotificationChannel], *, cooldown: bool, occurrence=None
) -> list[int]:
    """Messages for an alert that named its own channels: one each, at once."""
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
                    group__isnull=True,
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
    return insert(rows, now)


def _route_resolved(alert) -> list[int]:
    _cancel_waiting(alert, f"alert {alert.status} before it was sent")
    fired = (
        Notification.objects.filter(
            alert=alert,
            group__isnull=True,  # a group tells of its resolutions itself
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
    return insert(rows, now)


def _cancel_waiting(alert, reason: str) -> int:
    return Notification.objects.filter(
        alert=alert, transition__in=FIRING_TRANSITIONS, status__in=WAITING_STATUSES
    ).update(status=DeliveryStatus.CANCELLED, last_error=reason, updated=timezone.now())


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
            group__isnull=True,  # a group repeats itself (its repeat_interval)
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
    ids = insert(rows, now)
    if ids:
        schedule_delivery(ids)
    return len(rows)
