"""What a notification says, built once from the alert and shaped by each notifier."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from alerts.constants import is_no_data
from alerts.models import Alert
from alerts.service import describe_metric
from notifications.grouping import NO_DATA_GROUP, host_of
from notifications.models import Transition

STACK_TRACE_LIMIT = 3000


@dataclass
class Message:
    transition: str
    title: str
    text: str
    severity: str
    category: str = ""
    resource: str = ""
    status: str = ""
    link: str = ""
    alert_id: int | None = None
    fingerprint: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    count: int = 1
    value: float | None = None
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    recommendations: list[str] = field(default_factory=list)
    stack_trace: str = ""
    host: str = ""
    sent_at: datetime = field(default_factory=timezone.now)
    idempotency_key: str = ""
    # The incident key receivers deduplicate by (PagerDuty's dedup_key): the alert
    # group's key for a routed message, else the alert's fingerprint.
    dedup_key: str = ""
    # A message about several alerts: what ``group_payload`` describes.
    group: dict[str, Any] | None = None
    # What the value measures ("CPU") and its unit (" %"), for the facts.
    metric: str = ""
    unit: str = ""
    # The reading that cleared a resolved alert, and who acknowledged it.
    cleared_value: float | None = None
    acknowledged_by: str = ""
    affected_users: int = 0
    error_count: int = 0
    # What the caller of send_alert gave as context (seed 000: node, retry_count).
    context: dict[str, str] = field(default_factory=dict)
    # A message to one person (see ``register_personalizer``): links or buttons that act
    # on the alert as that person ({"action", "label", "url", "value"}), the Slack member
    # to mention, and what an SMS reply does.
    actions: list[dict[str, str]] = field(default_factory=list)
    mention: str = ""
    reply_hint: str = ""

    @property
    def resolved(self) -> bool:
        return self.transition == Transition.RESOLVED

    @property
    def headline(self) -> str:
        """'[CRITICAL] Disk almost full - db-01', '[RESOLVED] ...'."""
        tags: dict[str, str] = {
            Transition.RESOLVED: "RESOLVED",
            Transition.REPEAT: f"STILL {self.severity.upper()}",
            Transition.ESCALATED: f"ESCALATED {self.severity.upper()}",
            Transition.TEST: "TEST",
        }
        tag = tags.get(self.transition, self.severity.upper())
        return f"[{tag}] {self.title}"

    def facts(self) -> list[tuple[str, str]]:
        """Short labelled facts every rich format shows."""
        if self.group is not None:
            rows = [("Severity", self.severity), ("Firing", str(self.group["firing_count"]))]
            if self.group["resolved_count"]:
                rows.append(("Resolved", str(self.group["resolved_count"])))
            rows.extend(
                (name.replace("_", " ").capitalize(), str(value))
                for name, value in sorted(self.group["labels"].items())
            )
            return rows
        rows = [("Severity", self.severity), ("Status", self.status or self.transition)]
        if self.resource:
            rows.append(("Resource", self.resource))
        if self.metric:
            rows.append(("Metric", self.metric))
        if self.value is not None:
            rows.append(("Value", self.reading(self.value)))
        if self.threshold is not None:
            rows.append(("Threshold", self.reading(self.threshold)))
        if self.resolved and self.cleared_value is not None:
            rows.append(("Cleared at", self.reading(self.cleared_value)))
        if self.affected_users:
            rows.append(("Affected users", str(self.affected_users)))
        if self.error_count > 1:
            rows.append(("Errors", str(self.error_count)))
        if self.count > 1:
            rows.append(("Occurrences", str(self.count)))
        if self.first_seen:
            rows.append(("First seen", self.first_seen.strftime("%Y-%m-%d %H:%M:%S UTC")))
        if self.acknowledged_by:
            rows.append(("Acknowledged by", self.acknowledged_by))
        if self.host:
            rows.append(("Reported by", self.host))
        rows.extend((name.replace("_", " ").capitalize(), v) for name, v in self.context.items())
        rows.extend((f"Label {k}", str(v)) for k, v in sorted(self.labels.items()))
        return rows

    def reading(self, value: float) -> str:
        """'97.1 %', '80 %', '350 ms': a reading as people write it."""
        return f"{_number(value)}{self.unit}"


def alert_link(alert_id: int | None) -> str:
    if alert_id is None:
        return f"{settings.PUBLIC_URL}/"
    return f"{settings.PUBLIC_URL}/alerts/{alert_id}/"


Personalizer = Callable[[Any, Message], None]
_personalizers: list[Personalizer] = []


def register_personalizer(personalizer: Personalizer) -> None:
    """``personalizer(notification, message)`` completes every message whose row's
    context names a ``person`` (the app that pages people adds its action links), at
    send time, so nothing it adds is stored in the outbox."""
    if personalizer not in _personalizers:
        _personalizers.append(personalizer)


def for_notification(notification) -> Message:
    message = _for_notification(notification)
    if (notification.context or {}).get("person"):
        for personalize in _personalizers:
            personalize(notification, message)
    return message


def _for_notification(notification) -> Message:
    alert = notification.alert
    group = (notification.context or {}).get("group")
    if alert is None and group and notification.group_id:
        return for_group(notification, group)
    if alert is None:
        return test_message(notification.idempotency_key)
    metadata = dict(alert.metadata or {})
    context = dict(notification.context or {})
    return Message(
        transition=notification.transition,
        title=alert.title,
        text=alert.message,
        severity=context.get("severity", alert.severity),
        category=alert.category,
        resource=alert.resource,
        status=alert.status,
        link=alert_link(alert.pk),
        alert_id=alert.pk,
        fingerprint=alert.fingerprint,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        count=alert.notification_count,
        value=alert.value,
        threshold=alert.threshold,
        labels={str(k): str(v) for k, v in (alert.labels or {}).items()},
        metadata=metadata,
        recommendations=[str(r) for r in (alert.recommendations or [])],
        stack_trace=(alert.stack_trace or "")[-STACK_TRACE_LIMIT:],
        host=str(metadata.get("host") or settings.LOCAL_HOSTNAME),
        idempotency_key=notification.idempotency_key,
        dedup_key=group["key"] if group else alert.fingerprint,
        metric=_metric_word(alert, metadata),
        unit=UNIT_SYMBOLS.get(str(metadata.get("unit") or ""), ""),
        cleared_value=_cleared_value(alert) if notification.transition == "resolved" else None,
        acknowledged_by=alert.acknowledged_by,
        affected_users=alert.affected_users,
        error_count=alert.error_count if alert.category == "application" else 0,
        context=_context(metadata),
    )


# How a stored unit reads after a number.
UNIT_SYMBOLS = {"percent": " %", "%": " %", "ms": " ms", "seconds": " s", "s": " s"}
# Metadata the console itself writes: not the caller's context.
_OWN_METADATA = {
    "timestamp",
    "host",
    "source",
    "actor",
    "recommendations",
    "notification_channels",
    "exclude_channels",
    "exception",
}
CONTEXT_SHOWN = 8


def _number(value: float) -> str:
    """97.052 → '97.1', 80.0 → '80', 0.0123 → '0.0123', 12345.6 → '12346'."""
    if abs(value) >= 1000:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.3g}"


def _metric_word(alert, metadata: dict) -> str:
    """'CPU' for an alert on cpu_usage_percent; '' when the alert watches no metric."""
    metric = metadata.get("metric") or ""
    if not metric and alert.rule_id and alert.rule is not None:
        metric = alert.rule.metric
    if not metric and alert.alert_type.startswith("high_"):
        metric = alert.alert_type.removeprefix("high_")
    return describe_metric(str(metric))[0] if metric else ""


def _cleared_value(alert) -> float | None:
    """The reading that cleared the alert, from its resolution's timeline entry."""
    event = alert.events.filter(kind="resolved").order_by("-created").first()
    value = (event.data or {}).get("value") if event is not None else None
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _context(metadata: dict) -> dict[str, str]:
    """What send_alert's caller gave as context (seed 000's node, retry_count)."""
    if metadata.get("source") != "send_alert":
        return {}
    shown = {
        str(key): str(value)[:200]
        for key, value in metadata.items()
        if key not in _OWN_METADATA and isinstance(value, str | int | float | bool)
    }
    return dict(list(shown.items())[:CONTEXT_SHOWN])


def group_link(group_id: int, *, resolved: bool = False) -> str:
    status = "&status=all" if resolved else ""
    return f"{settings.PUBLIC_URL}/alerts/?group={group_id}{status}"


def for_group(notification, group: dict) -> Message:
    """A message about several alerts of one group: who is firing (the first ones by
    when they started, with their values), what resolved, and how many more."""
    ids = [*group["firing"], *group["resolved"]]
    alerts = Alert.objects.select_related("rule").in_bulk(ids)
    firing = [alerts[i] for i in group["firing"] if i in alerts]
    resolved = [alerts[i] for i in group["resolved"] if i in alerts]
    title = group_title(group, firing or resolved)
    lines = [_counts(group)]
    lines.extend(f"• {_line(alert)}" for alert in firing)
    more = group["firing_count"] - len(firing)
    if more > 0:
        lines.append(f"… and {more} more firing")
    if resolved:
        lines.append("Resolved:")
        lines.extend(f"• {_line(alert, resolved=True)}" for alert in resolved)
        more = group["resolved_count"] - len(resolved)
        if more > 0:
            lines.append(f"… and {more} more resolved")
    first = min((a.first_seen for a in firing or resolved), default=None)
    return Message(
        transition=notification.transition,
        title=title,
        text="\n".join(lines),
        severity=(notification.context or {}).get("severity", "info"),
        category=(firing or resolved)[0].category if (firing or resolved) else "",
        status="firing" if group["firing_count"] else "resolved",
        link=group_link(notification.group_id, resolved=not group["firing_count"]),
        first_seen=first,
        count=group["firing_count"],
        labels={str(k): str(v) for k, v in group["labels"].items()},
        host=settings.LOCAL_HOSTNAME,
        idempotency_key=notification.idempotency_key,
        dedup_key=group["key"],
        group={
            **group,
            "alerts": [_entry(a) for a in firing],
            "resolved_alerts": [_entry(a) for a in resolved],
        },
    )


def group_title(group: dict, alerts) -> str:
    """'High CPU usage on 37 hosts', 'Payment API errors: 4 alerts'."""
    names = {_name(alert) for alert in alerts}
    base = names.pop() if len(names) == 1 else group.get("rule") or "Alerts"
    count = group["firing_count"] or group["resolved_count"]
    hosts = all(alert.resource and alert.resource == host_of(alert) for alert in alerts)
    if hosts:
        return f"{base} on {count} host{'s' if count != 1 else ''}"
    return f"{base}: {count} alert{'s' if count != 1 else ''}"


def _name(alert) -> str:
    """What the alert is about, without where: its rule's name, else its title less the
    resource it names ("High CPU usage - web-01" → "High CPU usage"); "No data" for the
    alert of a rule whose data stopped, whichever rule it was."""
    if is_no_data(alert):
        return NO_DATA_GROUP
    if alert.rule_id and alert.rule is not None:
        return alert.rule.name
    for separator in (" - ", " on ", ": "):
        suffix = f"{separator}{alert.resource}"
        if alert.resource and alert.title.endswith(suffix) and len(alert.title) > len(suffix):
            return alert.title[: -len(suffix)]
    return alert.alert_type.replace("_", " ").capitalize()


def _counts(group: dict) -> str:
    parts = [f"{group['firing_count']} firing"]
    if group["new_count"] and group["new_count"] != group["firing_count"]:
        parts[0] += f" ({group['new_count']} new)"
    if group["resolved_count"]:
        parts.append(f"{group['resolved_count']} resolved")
    return ", ".join(parts) + "."


def _line(alert, *, resolved: bool = False) -> str:
    where = alert.resource or alert.title
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    unit = UNIT_SYMBOLS.get(str(metadata.get("unit") or ""), "")
    value = ""
    if alert.value is not None:
        value = f" {_number(alert.value)}{unit}"
        if alert.threshold is not None:
            value += f" (threshold {_number(alert.threshold)}{unit})"
    if resolved and alert.resolved_at:
        return f"{where}{value}, resolved {alert.resolved_at:%H:%M} UTC"
    return f"{where}{value}, {alert.severity}, since {alert.first_seen:%H:%M} UTC"


def _entry(alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "title": alert.title,
        "severity": alert.severity,
        "status": alert.status,
        "resource": alert.resource,
        "value": alert.value,
        "threshold": alert.threshold,
        "first_seen": alert.first_seen.isoformat(),
        "url": alert_link(alert.pk),
    }


def test_message(key: str = "") -> Message:
    return Message(
        transition=Transition.TEST,
        title="Test message from OpsConsole",
        text="If you can read this, the channel works.",
        severity="info",
        status="test",
        link=alert_link(None),
        host=socket.gethostname(),
        idempotency_key=key,
    )
