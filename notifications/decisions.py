"""The notifications' part of an alert's decisions (``alerts.decisions``): the groups it
joined and when they sent, which routing rules take it and which do not (and why),
each channel's answer to "was I told, and if not, why not", and every delivery
attempt with its response."""

from __future__ import annotations

from django.utils import timezone

from alerts.constants import SEVERITY_RANK, Severity, Status
from alerts.decisions import Decision
from notifications.grouping import messages_of
from notifications.models import (
    WAITING_STATUSES,
    AlertGroupMember,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
)
from notifications.outbox import listed
from notifications.routing import routes_for
from notifications.table import matches

SHOWN = 100


def decisions(alert) -> list[Decision]:
    found: list[Decision] = []
    memberships = list(AlertGroupMember.objects.filter(alert=alert).select_related("group__rule"))
    for member in memberships:
        found.extend(_group(member))
    messages = list(messages_of(alert, memberships)[:SHOWN])
    for n in messages:
        found.append(_delivery(n))
    # Routing as it stands now, read once for the rules and for every channel's verdict.
    route = routes_for(alert)
    found.extend(_routing(alert, route))
    told = {n.channel_id for n in messages if n.status == DeliveryStatus.SENT}
    for channel in NotificationChannel.objects.order_by("name"):
        found.append(_channel(alert, channel, told, messages, memberships, route))
    return found


def _group(member: AlertGroupMember) -> list[Decision]:
    group = member.group
    labels = ", ".join(f"{k}={v}" for k, v in sorted(group.labels.items())) or "all alerts"
    data = {"group_id": group.pk, "group_key": group.key, "routing_rule": group.rule.name}
    out = [
        Decision(
            member.joined_at,
            "group",
            "grouped",
            f"joined group #{group.pk} of routing rule {group.rule.name!r} ({labels}): "
            f"its messages wait group_wait {group.rule.group_wait} s, then go at most every "
            f"{group.rule.group_interval} s",
            data=data,
        )
    ]
    if member.firing_sent_at:
        out.append(
            Decision(
                member.firing_sent_at,
                "group",
                "told",
                f"group #{group.pk}'s message told of it firing ({member.sent_severity})",
                data=data,
            )
        )
    elif group.closed_at is None and group.next_flush_at is not None:
        out.append(
            Decision(
                None,
                "group",
                "waiting",
                f"group #{group.pk} sends next at {group.next_flush_at:%Y-%m-%d %H:%M:%S} UTC",
                data=data,
            )
        )
    if member.resolved_sent_at:
        out.append(
            Decision(
                member.resolved_sent_at,
                "group",
                "told",
                f"group #{group.pk}'s message told of its resolution",
                data=data,
            )
        )
    return out


def _delivery(n: Notification) -> Decision:
    what = n.get_transition_display().lower()
    if n.group_id and n.alert_id is None:
        firing = (n.context.get("group") or {}).get("firing_count", 0)
        what += f" (group #{n.group_id}, {firing} firing)"
    summary = f"{what} message to {n.channel.name}: {n.get_status_display().lower()}"
    if n.attempts:
        summary += f" after {n.attempts} attempt{'s' if n.attempts != 1 else ''}"
    if n.response_code:
        summary += f", HTTP {n.response_code}"
    if n.last_error:
        summary += f": {n.last_error}"
    if n.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING) and (
        n.next_attempt_at > timezone.now()
    ):
        summary += f"; held until {n.next_attempt_at:%H:%M:%S} UTC (cooldown, rate limit or retry)"
    return Decision(
        n.sent_at or n.created,
        "delivery",
        str(n.status),
        summary,
        channel=n.channel.name,
        data={"notification_id": n.pk, "transition": n.transition, "group_id": n.group_id},
    )


def _routing(alert, route) -> list[Decision]:
    """How routing, as it stands now, treats this alert: each rule, taken or not."""
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    named = listed(metadata.get("notification_channels"))
    if named is not None:
        return [
            Decision(
                None,
                "route",
                "named",
                f"the alert names its channels ({', '.join(map(str, named))}): routing rules "
                "are not asked, and it goes alone and at once",
            )
        ]
    _direct, routes = route
    given = {rule.pk: [c.name for c in channels] for rule, channels in routes}
    out = []
    for rule in RoutingRule.objects.order_by("position", "name"):
        reason = matches(rule, alert)
        if reason:
            out.append(
                Decision(None, "route", "not matched", f"routing rule {rule.name!r}: {reason}")
            )
        elif rule.pk in given:
            names = ", ".join(given[rule.pk])
            out.append(
                Decision(None, "route", "matched", f"routing rule {rule.name!r} sends to {names}")
            )
        else:
            out.append(
                Decision(
                    None,
                    "route",
                    "matched",
                    f"routing rule {rule.name!r} matches, but none of its channels takes this "
                    "alert (disabled, below their minimum severity, or given by an earlier rule)",
                )
            )
    if not out:
        out.append(Decision(None, "route", "not matched", "there are no routing rules"))
    return out


def _channel(alert, channel, told, messages, memberships, route) -> Decision:
    """One channel's answer: told, or why not."""
    mine = [n for n in messages if n.channel_id == channel.pk]
    if channel.pk in told:
        last = max(n.sent_at or n.created for n in mine if n.status == DeliveryStatus.SENT)
        return Decision(
            None,
            "channel",
            "sent",
            f"alert #{alert.pk} was sent to {channel.name} (last at {last:%H:%M:%S} UTC)",
            channel=channel.name,
        )
    return Decision(
        None,
        "channel",
        "not sent",
        f"alert #{alert.pk} was not sent to {channel.name} because "
        + _why_not(alert, channel, mine, memberships, route),
        channel=channel.name,
    )


def _why_not(alert, channel, mine, memberships, route) -> str:
    if mine:
        last = mine[-1]
        if last.status in (*WAITING_STATUSES, DeliveryStatus.SENDING):
            state = last.get_status_display().lower()
            return f"its message is {state} (since {last.created:%H:%M:%S} UTC)"
        error = f": {last.last_error}" if last.last_error else ""
        return f"its message {last.get_status_display().lower()}{error}"
    if not channel.enabled:
        return "the channel is disabled"
    if SEVERITY_RANK[Severity(alert.severity)] < SEVERITY_RANK[Severity(channel.min_severity)]:
        return (
            f"the alert is {alert.severity}, below the channel's minimum ({channel.min_severity})"
        )
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    if channel.pk in set(listed(metadata.get("exclude_channels")) or ()):
        return "the alert excludes this channel"
    if alert.status == Status.SUPPRESSED:
        return f"the alert is held back: {alert.suppressed_reason or alert.suppressed_by}"
    direct, routes = route
    named = listed(metadata.get("notification_channels")) is not None
    if named and channel not in direct:
        return "the alert names other channels"
    routed = [rule for rule, channels in routes if channel in channels]
    if not direct and not routed:
        return "no routing rule sends this alert to it"
    waiting = [
        m.group
        for m in memberships
        if m.group.rule in routed and m.group.closed_at is None and m.firing_sent_at is None
    ]
    if waiting and waiting[0].next_flush_at:
        group = waiting[0]
        return (
            f"its group #{group.pk} waits until {group.next_flush_at:%H:%M:%S} UTC "
            "(group_wait or group_interval) before it sends"
        )
    if alert.status in (Status.RESOLVED, Status.EXPIRED):
        return "the alert closed before its group sent"
    return "nothing has been sent for it yet"
