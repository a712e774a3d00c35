"""AlertService: open, deduplicate and move alerts through their lifecycle.

Seed 001's API works as its README shows, from this module::

    from alerts.service import AlertService, Alert, AlertPriority, AlertCategory

    service = AlertService()
    alert = service.create_system_alert(
        metric_name="cpu_percent", current_value=92, threshold_value=80, resource="web-01"
    )

Every alert is raised and changed through ``alerts.pipeline``, the one path every
source takes (policies, timeline, hand-off to notifications); this service is seed
001's face of it.

Auto-priority follows the design's formula, not seed 001's examples where the two
disagree: a system alert is critical when the value is more than 50 % over its
threshold, error when more than 20 %, warning otherwise. So CPU at 92 % against 80 %
(15 % over) is a warning, though the seed's example calls it HIGH.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import ExtractHour
from django.utils import timezone

from alerts import models, pipeline, recommendations
from alerts.constants import OPEN_STATUSES, Category, EventKind, Status
from alerts.models import AlertRule
from alerts.pipeline import ALERTS_GROUP, AlertStateError, open_alert
from alerts.spec import AlertCategory, AlertPriority, AlertSpec, fingerprint_of

# Seed 001's name for the spec of an alert to raise (``Alert(alert_type=..., ...)``);
# the project calls it AlertSpec and keeps Alert for the stored row (alerts.models).
Alert = AlertSpec

__all__ = [
    "ALERTS_GROUP",
    "Alert",
    "AlertCategory",
    "AlertPriority",
    "AlertService",
    "AlertSpec",
    "AlertStateError",
    "fingerprint_of",
    "open_alert",
]

MAX_SUPPRESS_HOURS = 24 * 30


def priority_for_overage(overage_percent: float) -> AlertPriority:
    if overage_percent > 50:
        return AlertPriority.CRITICAL
    if overage_percent > 20:
        return AlertPriority.HIGH
    return AlertPriority.MEDIUM


def priority_for_error(error_type: str, affected_users: int, error_count: int) -> AlertPriority:
    if "database" in error_type.lower() or affected_users > 10:
        return AlertPriority.CRITICAL
    if error_count > 5:
        return AlertPriority.HIGH
    return AlertPriority.MEDIUM


# What an operator calls a metric, by its name's start.
_METRIC_WORDS = {"cpu": "CPU", "memory": "Memory", "swap": "Swap", "disk": "Disk", "load": "Load"}


def describe_metric(metric_name: str) -> tuple[str, str]:
    """('CPU', '%') for cpu_percent; the unit is written right after the number."""
    lowered = metric_name.lower()
    if "percent" in lowered or lowered.endswith("_pct"):
        unit = "%"
    elif lowered.endswith("_ms"):
        unit = " ms"
    else:
        unit = ""
    for prefix, word in _METRIC_WORDS.items():
        if lowered.startswith(prefix):
            return word, unit
    return metric_name.replace("_", " ").capitalize(), unit


# The unit written after a number in a message, as the pages' unit filter names it.
_UNIT_NAMES = {"%": "percent", " ms": "ms"}


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


class AlertService:
    """Seed 001's service. ``db`` is accepted for the seed's signature and ignored."""

    def __init__(self, db: Any = None):
        self.db = db

    # -- raising -------------------------------------------------------------------------
    def create_alert(self, alert: AlertSpec, *, actor: str = "system") -> models.Alert:
        """Open a new alert, or count a repeat of the open one with the same fingerprint
        (through the pipeline, like every other source).

        The returned alert's ``metadata`` is stored as it is changed (seed 001's
        ``alert.metadata.update({"top_processes": [...]})``), and reads
        ``metadata["recommendations"]`` as the alert's recommendations."""
        record = pipeline.raise_alert(alert, actor=actor)
        record.metadata = StoredMetadata(record, record.metadata)
        return record

    def create_system_alert(
        self,
        metric_name: str,
        current_value: float,
        threshold_value: float,
        resource: str,
        *,
        labels: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
        category: Category | str = Category.SYSTEM,
        rule: AlertRule | None = None,
    ) -> models.Alert:
        """'High CPU Usage - web-01': 'CPU is at 92% (threshold: 80%, exceeded by 15.0%)'."""
        word, unit = describe_metric(metric_name)
        overage = _overage(current_value, threshold_value)
        message = (
            f"{word} is at {_number(current_value)}{unit} "
            f"(threshold: {_number(threshold_value)}{unit}, exceeded by {overage:.1f}%)"
        )
        return self.create_alert(
            AlertSpec(
                alert_type=f"high_{metric_name}",
                title=(
                    f"High {word} Usage - {resource}"
                    if unit == "%"
                    else f"High {word} - {resource}"
                ),
                message=message,
                priority=priority_for_overage(overage),
                category=category,
                resource=resource,
                labels=labels or {},
                metadata={
                    "metric": metric_name,
                    "current_value": current_value,
                    "threshold_value": threshold_value,
                    "overage_percent": round(overage, 1),
                    "unit": _UNIT_NAMES.get(unit, ""),
                    **(metadata or {}),
                },
                recommend=lambda: recommendations.for_metric(metric_name, resource),
                value=current_value,
                threshold=threshold_value,
                rule=rule,
            )
        )

    def create_performance_alert(
        self,
        metric_name: str,
        current_value: float,
        threshold_value: float,
        resource: str,
        percentile: str = "P95",
        *,
        metadata: dict[str, Any] | None = None,
    ) -> models.Alert:
        """'Slow /api/bookings: P95 api_response_time_ms is 1500 ms (threshold 1000 ms)'.

        The percentile is part of what the alert is about: a P95 and a P99 alert on the
        same resource are two alerts ("p99", "P99" and "99" all read as P99)."""
        percentile = _percentile_name(percentile)
        overage = _overage(current_value, threshold_value)
        unit = " ms" if metric_name.endswith("_ms") else ""
        return self.create_alert(
            AlertSpec(
                alert_type=f"performance_{metric_name}",
                title=f"Slow {resource}: {percentile} {metric_name}",
                message=(
                    f"{percentile} {metric_name} is {_number(current_value)}{unit} "
                    f"(threshold: {_number(threshold_value)}{unit}, exceeded by {overage:.1f}%)"
                ),
                priority=priority_for_overage(overage),
                category=Category.PERFORMANCE,
                resource=resource,
                labels={"percentile": percentile},
                metadata={
                    "metric": metric_name,
                    "percentile": percentile,
                    "current_value": current_value,
                    "threshold_value": threshold_value,
                    "overage_percent": round(overage, 1),
                    "unit": _UNIT_NAMES.get(unit, ""),
                    **(metadata or {}),
                },
                recommend=lambda: recommendations.for_metric("latency", resource),
                value=current_value,
                threshold=threshold_value,
            )
        )

    def create_application_error_alert(
        self,
        error_type: str,
        error_message: str,
        stack_trace: str = "",
        source: str = "",
        affected_endpoint: str = "",
        affected_users: int = 0,
        error_count: int = 1,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> models.Alert:
        """One alert per error type and place; repeats add to its error count."""
        category = (
            Category.DATABASE
            if "database" in error_type.lower() or "operationalerror" in error_type.lower()
            else Category.APPLICATION
        )
        impact = [f"on {affected_endpoint}"] if affected_endpoint else []
        if affected_users:
            impact.append(f"{affected_users} user{'s' if affected_users != 1 else ''} affected")
        if error_count > 1:
            impact.append(f"{error_count} errors")
        return self.create_alert(
            AlertSpec(
                alert_type=f"application_error_{error_type}",
                title=f"{error_type} in {source or 'the application'}",
                message=f"{error_message} ({', '.join(impact)})" if impact else error_message,
                priority=priority_for_error(error_type, affected_users, error_count),
                category=category,
                resource=source,
                labels={"endpoint": affected_endpoint} if affected_endpoint else {},
                metadata={
                    "error_type": error_type,
                    "source": source,
                    "affected_endpoint": affected_endpoint,
                    **(metadata or {}),
                },
                recommend=lambda: recommendations.for_error(
                    error_type,
                    error_message,
                    endpoint=affected_endpoint,
                    affected_users=affected_users,
                ),
                stack_trace=stack_trace,
                affected_users=affected_users,
                error_count=error_count,
            )
        )

    # -- lifecycle -----------------------------------------------------------------------
    def acknowledge_alert(
        self, alert_id: int, acknowledged_by: str, notes: str = ""
    ) -> models.Alert:
        return pipeline.transition(
            alert_id,
            pipeline.allowing("acknowledge"),
            {
                "status": Status.ACKNOWLEDGED,
                "acknowledged_by": acknowledged_by,
                "acknowledged_at": timezone.now(),
                "acknowledge_notes": notes,
            },
            EventKind.ACKNOWLEDGED,
            acknowledged_by,
            notes,
        )

    def resolve_alert(
        self,
        alert_id: int,
        resolved_by: str,
        resolution_notes: str = "",
        *,
        data: dict | None = None,
    ) -> models.Alert:
        return pipeline.resolve(alert_id, resolved_by, resolution_notes, data=data)

    def suppress_alert(
        self, alert_id: int, suppressed_by: str, reason: str = "", duration_hours: float = 1
    ) -> models.Alert:
        try:
            hours = float(duration_hours)
        except (TypeError, ValueError):
            raise ValueError(f"duration_hours must be a number, not {duration_hours!r}") from None
        if not 0 < hours <= MAX_SUPPRESS_HOURS:
            raise ValueError(f"duration_hours must be more than 0 and at most {MAX_SUPPRESS_HOURS}")

        now = timezone.now()
        until = now + timedelta(hours=hours)
        return pipeline.transition(
            alert_id,
            pipeline.allowing("suppress"),
            {
                "status": Status.SUPPRESSED,
                "suppressed_by": suppressed_by,
                "suppressed_at": now,
                "suppressed_reason": reason,
                "suppressed_until": until,
                "inhibited_by": None,
            },
            EventKind.SUPPRESSED,
            suppressed_by,
            reason,
            {"until": until.isoformat(), "hours": hours},
        )

    def expire_alerts(self, now=None) -> int:
        """Close open alerts past their expiry (their TTL): status expired."""
        now = now or timezone.now()
        expired = 0
        for alert_id in models.Alert.objects.filter(
            status__in=OPEN_STATUSES, expires_at__lte=now
        ).values_list("pk", flat=True):
            try:
                pipeline.transition(
                    alert_id,
                    pipeline.allowing("expire"),
                    {"status": Status.EXPIRED, "resolved_at": now},
                    EventKind.EXPIRED,
                    "system",
                    "past its expiry time",
                )
            except AlertStateError:
                continue  # resolved meanwhile
            expired += 1
        return expired

    # -- analysis ------------------------------------------------------------------------
    def get_alert_patterns(self, days: int = 7) -> dict[str, Any]:
        """Seed 001's pattern analysis, plus time to acknowledge and the noisiest rules."""
        if days < 1:
            raise ValueError("days must be at least 1")
        # Closed alerts older than ALERT_RETENTION_DAYS are deleted: a longer period
        # would count only the open ones beyond it, so the period stops there and says so.
        covered = min(days, settings.ALERT_RETENTION_DAYS)
        since = timezone.now() - timedelta(days=covered)
        alerts = models.Alert.objects.filter(first_seen__gte=since)
        types = Counter(dict(alerts.values_list("alert_type").annotate(n=Count("id")).order_by()))
        severities = dict(alerts.values_list("severity").annotate(n=Count("id")).order_by())
        hourly = [0] * 24
        for hour, count in (
            alerts.annotate(hour=ExtractHour("first_seen"))
            .values_list("hour")
            .annotate(n=Count("id"))
            .order_by()
        ):
            hourly[hour] = count
        total = sum(types.values())
        resolved = list(
            alerts.filter(resolved_at__isnull=False, status=Status.RESOLVED).values_list(
                "first_seen", "resolved_at", "acknowledged_at"
            )
        )
        acknowledged = list(
            alerts.filter(acknowledged_at__isnull=False).values_list(
                "first_seen", "acknowledged_at"
            )
        )
        noisiest = list(
            alerts.filter(rule__isnull=False)
            .values("rule__name")
            .annotate(alerts=Count("id"), firings=Sum("notification_count"))
            .order_by("-firings", "-alerts")[:5]
        )
        most_common = types.most_common(1)
        return {
            "type_names": _type_names(types),
            "days": days,
            # What the figures cover: alerts first seen from ``since`` on, ``covered_days``
            # (less than ``days`` when the retention is shorter).
            "covered_days": covered,
            "since": since.isoformat(),
            "retention_days": settings.ALERT_RETENTION_DAYS,
            "total_alerts": total,
            "type_distribution": dict(types),
            "severity_distribution": severities,
            "most_common_type": most_common[0][0] if most_common else None,
            "most_common_count": most_common[0][1] if most_common else 0,
            "hourly_distribution": hourly,
            "peak_hour": hourly.index(max(hourly)) if total else None,
            "avg_resolution_time_minutes": _mean_minutes((a, b) for a, b, _ in resolved),
            "mean_time_to_acknowledge_minutes": _mean_minutes(acknowledged),
            "resolved_before_acknowledged_share": (
                round(sum(1 for *_, ack in resolved if ack is None) / len(resolved), 3)
                if resolved
                else None
            ),
            "noisiest_rules": [
                {"rule": row["rule__name"], "alerts": row["alerts"], "firings": row["firings"]}
                for row in noisiest
            ],
        }


class StoredMetadata(dict):
    """An alert's metadata that writes itself back on every change: seed 001 extends an
    alert it was handed (``alert.metadata.update({...})``) and expects it kept. Each
    change is one UPDATE of the metadata column alone (no timeline entry: metadata is
    context, not a change of the alert). ``["recommendations"]`` reads the alert's
    recommendations, kept in their own field, as seed 001's tests read them."""

    def __init__(self, alert: models.Alert, values: dict | None):
        super().__init__(values or {})
        self._alert = alert

    def __missing__(self, key):
        if key == "recommendations":
            return self._alert.recommendations
        raise KeyError(key)

    def get(self, key, default=None):
        return self[key] if key in self or key == "recommendations" else default

    def _store(self) -> None:
        models.Alert.objects.filter(pk=self._alert.pk).update(metadata=dict(self))

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._store()

    def __delitem__(self, key):
        super().__delitem__(key)
        self._store()

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        self._store()

    def setdefault(self, key, default=None):
        if key in self:
            return self[key]
        self[key] = default
        return default

    def pop(self, key, *default):
        value = super().pop(key, *default)
        self._store()
        return value

    def clear(self):
        super().clear()
        self._store()

    def __reduce__(self):  # pickled or copied, it is a plain dict again
        return (dict, (dict(self),))


def _percentile_name(percentile) -> str:
    """ "P95" from "P95", "p95", "95" or 95; a name like "avg" or "max" is kept as given."""
    text = str(percentile).strip()
    digits = text[1:] if text[:1] in ("p", "P") else text
    try:
        number = float(digits)
    except ValueError:
        return text
    if not 0 < number <= 100:
        raise ValueError(f"a percentile lies between 0 and 100, not {percentile!r}")
    return f"P{number:g}"


def _overage(current: float, threshold: float) -> float:
    if threshold == 0:
        return 100.0 if current > 0 else 0.0
    return (current - threshold) / abs(threshold) * 100


_RULE_TYPE = re.compile(r"(no_data_)?rule_(\d+)")


def type_name(alert_type: str) -> str:
    """What an operator calls an alert type: the rule's name for a type a rule raised
    (``rule_7``, ``no_data_rule_7``), else the type itself."""
    return _type_names([alert_type]).get(alert_type, alert_type)


def _type_names(types) -> dict[str, str]:
    """What an operator calls each alert type a rule raised: the rule's name."""
    wanted = {t: _RULE_TYPE.fullmatch(t) for t in types}
    ids = {int(m.group(2)) for m in wanted.values() if m}
    names = dict(AlertRule.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    found = {}
    for alert_type, match in wanted.items():
        if match and int(match.group(2)) in names:
            name = names[int(match.group(2))]
            found[alert_type] = f"No data: {name}" if match.group(1) else name
    return found


def _mean_minutes(pairs) -> float | None:
    spans = [(end - start).total_seconds() / 60 for start, end in pairs if end and start]
    return round(sum(spans) / len(spans), 1) if spans else None
