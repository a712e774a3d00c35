"""The routing table: enabled channels and enabled routing rules with their channels,
read once and kept per process for ``CONFIG_CACHE_SECONDS``."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db.models import Prefetch
from django.db.models.signals import m2m_changed, post_delete, post_save

from notifications.models import NotificationChannel, RoutingRule

# The routing table (enabled channels, enabled rules with their channels), kept per
# process for CONFIG_CACHE_SECONDS: a storm routes hundreds of alerts a second, and the
# table changes a few times a day. An edit in this process drops the copy at once;
# another process's copy is at most that old, and delivery checks that a channel is
# still enabled before it sends.
_table_lock = threading.Lock()
_table: tuple[float, list[NotificationChannel], list] | None = None


def routing_table() -> tuple[list[NotificationChannel], list]:
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


def rule_channels(rule: RoutingRule) -> list[NotificationChannel]:
    """The enabled channels a routing rule names (by kind, by name, or all)."""
    enabled, rules = routing_table()
    ids = next((ids for r, ids in rules if r.pk == rule.pk), None)
    if ids is None:  # a rule just disabled, or one this process has not read yet
        ids = list(rule.channels.values_list("pk", flat=True))
    return [
        c
        for c in enabled
        if rule.all_channels or c.kind in (rule.channel_kinds or ()) or c.pk in ids
    ]


def matches(rule: RoutingRule, alert, severity: str | None = None) -> str:
    """Why a routing rule does not take this alert ("" when it does)."""
    severity = severity or alert.severity
    if not rule.enabled:
        return "the rule is disabled"
    if rule.severities and severity not in rule.severities:
        return f"severity {severity} is not one of {', '.join(rule.severities)}"
    if rule.categories and alert.category not in rule.categories:
        return f"category {alert.category} is not one of {', '.join(rule.categories)}"
    labels = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    for name, value in (rule.label_matchers or {}).items():
        if labels.get(str(name)) != str(value):
            return f"label {name} is not {value!r}"
    return ""
