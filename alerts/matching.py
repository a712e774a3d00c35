"""What silences, inhibition rules and routing matchers read of an alert or a spec.

Its own module so that the policies and inhibition, which both match alerts, import it
rather than each other.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save

from alerts.constants import is_no_data
from alerts.models import Alert, AlertRule
from alerts.spec import AlertSpec

__all__ = ["NO_DATA_KIND", "fields_of", "forget_rule_kinds"]


def fields_of(alert: Alert | AlertSpec) -> dict[str, str]:
    """What matchers read of an alert or a spec: alert_type, resource, severity,
    category, and ``label:<name>`` entries."""
    return {
        "alert_type": str(alert.alert_type),
        "resource": str(alert.resource),
        "severity": str(alert.severity),
        "category": str(getattr(alert.category, "value", alert.category)),
        "rule_kind": _rule_kind(alert),
        **{f"label:{k}": str(v) for k, v in (alert.labels or {}).items()},
    }


NO_DATA_KIND = "no_data"


def _rule_kind(alert: Alert | AlertSpec) -> str:
    """The kind of the rule that raised the alert ("absence"), "no_data" for the alert of
    a firing rule whose data stopped, "" for alerts no rule raised. Reads no row when
    the rule came with the alert (a spec, ``select_related``); else the process's map
    of rule kinds."""
    if is_no_data(alert):
        return NO_DATA_KIND
    if isinstance(alert, AlertSpec):  # a spec carries its rule
        return str(alert.rule.kind) if alert.rule is not None else ""
    if alert.rule_id is None:
        return ""
    if Alert.rule.is_cached(alert):
        return str(alert.rule.kind) if alert.rule is not None else ""
    return _rule_kinds().get(alert.rule_id, "")


# -- rule kinds, per process ------------------------------------------------------------
_lock = threading.Lock()
_kinds: tuple[float, dict[int, str]] | None = None


def _rule_kinds() -> dict[int, str]:
    global _kinds
    now = time.monotonic()
    with _lock:
        kinds = _kinds if settings.CONFIG_CACHE_SECONDS else None
    if kinds is not None and now - kinds[0] < settings.CONFIG_CACHE_SECONDS:
        return kinds[1]
    found = dict(AlertRule.objects.values_list("id", "kind"))
    with _lock:
        _kinds = (now, found)
    return found


def forget_rule_kinds(**kwargs: Any) -> None:
    global _kinds
    with _lock:
        _kinds = None


post_save.connect(forget_rule_kinds, sender=AlertRule, dispatch_uid="policies.rule_saved")
