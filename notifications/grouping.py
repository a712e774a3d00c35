"""Alert groups: one message per channel for many alerts, on Alertmanager's timers.

A routing rule groups the alerts it routes by the values of its ``group_by`` fields
(rule, alert type, category, severity, resource, host, label names). The first alert of
a new group starts its timer: the group sends ``group_wait`` later, telling of every
alert that joined meanwhile. After that a group that changed (alerts joined, escalated
or resolved) sends at most every ``group_interval``; one that did not change but still
has unacknowledged alerts firing sends again after ``repeat_interval``. When every alert
of a group is resolved and that was told, the group closes.

The timer is a column (``AlertGroup.next_flush_at``), so a restart loses nothing: the
delivery lane flushes due groups (``flush_due``) as it polls the outbox, and a group
whose timer has already run out when an alert joins is flushed in that alert's
transaction. A flush writes ordinary outbox rows (``Notification`` with ``group``),
which the lane sends like any other: rate limits, retries and circuit breakers hold.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from alerts.constants import SEVERITY_RANK, Severity, Status, is_no_data
from notifications.models import (
    NO_GROUPING,
    AlertGroup,
    AlertGroupMember,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
)
from notifications.outbox import insert, schedule_delivery, takes
from notifications.table import matches, rule_channels

logger = logging.getLogger(__name__)

FIRING = (Status.ACTIVE, Status.ACKNOWLEDGED)
CLOSED = (Status.RESOLVED, Status.EXPIRED)
# How many alerts of each kind a message lists by id (the rest are counted).
LISTED = 20
FLUSH_BATCH = 200


def host_of(alert) -> str:
    labels = alert.labels or {}
    if labels.get("host"):
        return str(labels["host"])
    if alert.rule_id:
        return str(alert.resource)
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    return str(metadata.get("host") or "")


NO_DATA_GROUP = "No data"


def _value(alert, name: str) -> tuple[str, str]:
    """(what the key hashes, what a person reads) for one group_by field.

    Grouped by rule, the "no data" alerts of every rule share one group apart from the
    rules' own alerts: when fifty agents lose their network at once, one message (after
    ``group_wait``) lists the silent hosts, whichever rules were firing on them."""
    if name == "rule":
        if is_no_data(alert):
            return "no_data", NO_DATA_GROUP
        if alert.rule_id:
            return f"rule:{alert.rule_id}", alert.rule.name
        return f"type:{alert.alert_type}", alert.alert_type
    if name == "alert_type":
        return alert.alert_type, alert.alert_type
    if name == "category":
        return str(alert.category), str(alert.category)
    if name == "severity":
        return str(alert.severity), str(alert.severity)
    if name == "resource":
        return alert.resource, alert.resource
    if name == "host":
        host = host_of(alert)
        return host, host
    value = str((alert.labels or {}).get(name, ""))
    return value, value


def key_of(rule: RoutingRule, alert) -> tuple[str, dict[str, str]]:
    """The group this alert joins under this rule: its key and its readable labels.
    A rule that does not group puts each alert in a group of its own, keyed by the
    alert's fingerprint (PagerDuty then keeps one incident per alert, as before)."""
    fields = list(rule.group_by or [])
    if NO_GROUPING in fields:
        return alert.fingerprint, {"alert": f"#{alert.pk}"}
    raw, shown = {}, {}
    for name in fields:
        raw[name], shown[name] = _value(alert, str(name))
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:32]
    return digest, shown


# -- joining -----------------------------------------------------------------------------


def join(
    alert,
    routes: list[tuple[RoutingRule, list[NotificationChannel]]],
    now=None,
    *,
    again: bool = False,
):
    """Put a firing (or escalated) alert in the group of each rule that routes it, and
    start or bring forward each group's timer; a group already due sends at once.
    ``again``: the alert was held back (suppressed, silenced) and is let go, which
    is news even to a group that told of it before. Returns the ids of messages
    written now."""
    now = now or timezone.now()
    ids: list[int] = []
    for rule, _channels in routes:
        group = _open_group(rule, alert, now)
        member, created = AlertGroupMember.objects.get_or_create(
            group=group, alert=alert, defaults={"joined_at": now}
        )
        if again and not created:
            member.firing_sent_at, member.sent_severity = None, ""
            member.save(update_fields=["firing_sent_at", "sent_severity"])
        elif not created and member.sent_severity == alert.severity:
            continue  # already told as it is: nothing new for this group
        if _schedule(group, now) <= now:
            ids.extend(flush(group.pk, now))
    return ids


def left(alert, now=None) -> list[int]:
    """An alert resolved or expired: each group that told of it firing tells of its
    resolution at its next flush (a group that never told of it has nothing to say)."""
    now = now or timezone.now()
    ids: list[int] = []
    groups = AlertGroup.objects.filter(
        closed_at__isnull=True,
        members__alert=alert,
        members__firing_sent_at__isnull=False,
        members__resolved_sent_at__isnull=True,
    ).select_related("rule")
    for group in groups:
        if _schedule(group, now) <= now:
            ids.extend(flush(group.pk, now))
    return ids


def _open_group(rule: RoutingRule, alert, now: datetime) -> AlertGroup:
    key, labels = key_of(rule, alert)
    group = AlertGroup.objects.filter(rule=rule, key=key, closed_at__isnull=True).first()
    if group is not None:
        return group
    try:
        # Another process may open the same group at the same moment: the partial
        # unique constraint keeps one, and this one then reads it.
        with transaction.atomic():
            return AlertGroup.objects.create(rule=rule, key=key, labels=labels)
    except IntegrityError:
        return AlertGroup.objects.get(rule=rule, key=key, closed_at__isnull=True)


def _schedule(group: AlertGroup, now: datetime) -> datetime:
    """Bring the group's timer forward to when it may next tell of a change; returns
    the time it is due."""
    rule = group.rule
    if group.last_sent_at is None:
        if group.next_flush_at is not None:
            return group.next_flush_at  # waiting since its first alert: group_wait holds
        due = now + timedelta(seconds=rule.group_wait)
        due = max(due, _cooled_down(group, now))
    else:
        due = max(now, group.last_sent_at + timedelta(seconds=rule.group_interval))
    if group.next_flush_at is None or due < group.next_flush_at:
        AlertGroup.objects.filter(pk=group.pk).update(next_flush_at=due)
        group.next_flush_at = due
    return group.next_flush_at


def _cooled_down(group: AlertGroup, now: datetime) -> datetime:
    """When a group that comes back may first send: a group of the same key that
    closed recently (a flapping alert) waits out the severity's cooldown
    (``NOTIFY_COOLDOWN_SECONDS``) from its last message."""
    severities = set(group.members.values_list("alert__severity", flat=True))
    seconds = max((settings.NOTIFY_COOLDOWN_SECONDS.get(s, 0) for s in severities), default=0)
    if not seconds:
        return now
    last = (
        AlertGroup.objects.filter(rule=group.rule_id, key=group.key, closed_at__isnull=False)
        .exclude(last_sent_at=None)
        .order_by("-last_sent_at")
        .values_list("last_sent_at", flat=True)
        .first()
    )
    return max(now, last + timedelta(seconds=seconds)) if last else now


# -- flushing ----------------------------------------------------------------------------


def flush_due(now: datetime | None = None, limit: int = FLUSH_BATCH) -> int:
    """Flush every group whose timer has run out; how many messages were written."""
    now = now or timezone.now()
    due = list(
        AlertGroup.objects.filter(next_flush_at__lte=now, closed_at__isnull=True)
        .order_by("next_flush_at")
        .values_list("pk", flat=True)[:limit]
    )
    written = 0
    for pk in due:
        try:
            with transaction.atomic():
                ids = flush(pk, now)
                schedule_delivery(ids)
            written += len(ids)
        except Exception:
            # One group that cannot be told must not stop the others.
            logger.exception("alert group %s could not be flushed", pk)
    return written


def flush(group_id: int, now: datetime) -> list[int]:
    """Tell what changed in this group since its last message, one message per channel
    of its rule; move its timer on. Returns the ids of the messages written."""
    locked = AlertGroup.objects.select_for_update()
    group = locked.select_related("rule").filter(pk=group_id, closed_at__isnull=True).first()
    if group is None:
        return []
    rule = group.rule
    members = list(group.members.select_related("alert"))
    # An alert that escalated out of this rule's reach is told of by the group it
    # joined; this one still tells of its resolution if it told of its firing.
    firing = [m for m in members if m.alert.status in FIRING and not matches(rule, m.alert)]
    new = [m for m in firing if m.firing_sent_at is None or m.sent_severity != m.alert.severity]
    resolved = [
        m
        for m in members
        if m.alert.status in CLOSED and m.firing_sent_at and not m.resolved_sent_at
    ]
    repeat = (
        not new
        and not resolved
        and group.last_sent_at is not None
        and now >= group.last_sent_at + timedelta(seconds=rule.repeat_interval)
        and any(m.alert.status == Status.ACTIVE for m in firing)
    )
    rows: list[Notification] = []
    if new or resolved or repeat:
        told = set(
            Notification.objects.filter(
                group=group, status__in=(DeliveryStatus.SENT, DeliveryStatus.SENDING)
            ).values_list("channel_id", flat=True)
        )
        for channel in rule_channels(rule) if rule.enabled else []:
            row = _message(group, channel, firing, new, resolved, repeat, told, now)
            if row is not None:
                rows.append(row)
        sent_at = now
        for m in new:
            m.firing_sent_at, m.sent_severity = sent_at, m.alert.severity
        for m in resolved:
            m.resolved_sent_at = sent_at
        AlertGroupMember.objects.bulk_update(
            [*new, *resolved], ["firing_sent_at", "sent_severity", "resolved_sent_at"]
        )
        group.flushes += 1
        group.last_sent_at = now
    # Members closed before anything was told of them are done with too.
    still_open = any(m.alert.status not in CLOSED for m in members)
    if firing and group.last_sent_at is not None:
        group.next_flush_at = group.last_sent_at + timedelta(seconds=rule.repeat_interval)
    elif still_open:
        group.next_flush_at = None  # only held (silenced, inhibited) alerts: they rejoin
    else:
        group.next_flush_at = None
        group.closed_at = now
    group.save(update_fields=["flushes", "last_sent_at", "next_flush_at", "closed_at"])
    # ``now`` may be a moment ahead (a test, a lane running late): the rows are due
    # from whichever is earlier.
    return insert(rows, min(now, timezone.now()))


def _message(group, channel, firing, new, resolved, repeat, told, now) -> Notification | None:
    """The message one channel gets at this flush, or None if nothing in it is for
    this channel (below its minimum severity, excluded by the alert, a resolution for
    a channel that was never told of the firing or does not take resolutions)."""

    def mine(items):
        return [m for m in items if takes(channel, m.alert)]

    shown_firing, shown_new, shown_resolved = mine(firing), mine(new), mine(resolved)
    if channel.pk not in told or not channel.send_resolved:
        shown_resolved = []
    if not (shown_new or shown_resolved or (repeat and shown_firing)):
        return None
    listed = {m.alert_id for m in (*shown_firing, *shown_resolved)}
    only = next(iter(shown_firing or shown_resolved)).alert if len(listed) == 1 else None
    if not shown_firing:
        transition = Transition.RESOLVED
    elif repeat:
        transition = Transition.REPEAT
    elif only is not None and any(m.firing_sent_at for m in shown_new):
        transition = Transition.ESCALATED
    else:
        transition = Transition.FIRING
    ranked = shown_firing or shown_resolved
    top = max(ranked, key=lambda m: SEVERITY_RANK[Severity(m.alert.severity)]).alert
    oldest_first = sorted(shown_firing, key=lambda m: m.alert.first_seen)
    return Notification(
        alert=only,
        group=group,
        channel=channel,
        transition=transition,
        idempotency_key=f"g{group.pk}:{channel.pk}:{group.flushes + 1}",
        next_attempt_at=min(now, timezone.now()),
        enqueued_at=now,
        context={
            "severity": top.severity,
            "group": {
                "key": group.key,
                "labels": group.labels,
                "rule": group.rule.name,
                "firing": [m.alert_id for m in oldest_first[:LISTED]],
                "firing_count": len(shown_firing),
                "new_count": len(shown_new),
                "resolved": [m.alert_id for m in shown_resolved[:LISTED]],
                "resolved_count": len(shown_resolved),
            },
        },
        urgency=SEVERITY_RANK[Severity(top.severity)],
    )


# -- what the admin shows ----------------------------------------------------------------


def open_groups(rule: RoutingRule):
    """The rule's open groups with their counts, next timer first."""
    return (
        AlertGroup.objects.filter(rule=rule, closed_at__isnull=True)
        .annotate(
            firing=Count("members", filter=Q(members__alert__status__in=FIRING)),
            total=Count("members"),
        )
        .order_by("next_flush_at", "pk")
    )


def messages_of(alert, memberships=None):
    """This alert's own messages, and its groups' messages since it joined them, oldest
    first (the alert page's deliveries, its decisions)."""
    if memberships is None:
        memberships = list(AlertGroupMember.objects.filter(alert=alert))
    query = Q(alert=alert)
    for member in memberships:
        query |= Q(
            group_id=member.group_id,
            alert__isnull=True,
            created__gte=member.joined_at - timedelta(seconds=1),
        )
    return Notification.objects.filter(query).select_related("channel").order_by("created", "id")
