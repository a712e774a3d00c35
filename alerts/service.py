"""AlertService: open, deduplicate and move alerts through their lifecycle.

Seed 001's API works as its README shows, from this module::

    from alerts.service import AlertService, Alert, AlertPriority, AlertCategory

    service = AlertService()
    alert = service.create_system_alert(
        metric_name="cpu_percent", current_value=92, threshold_value=80, resource="web-01"
    )

Every change is one transaction that also writes an ``AlertEvent`` (the timeline and
audit log); after commit the ``alert_fired`` / ``alert_changed`` signals go out and the
change is published to the ``alerts`` websocket group.

Auto-priority follows the design's formula, not seed 001's examples where the two
disagree: a system alert is critical when the value is more than 50 % over its
threshold, error when more than 20 %, warning otherwise. So CPU at 92 % against 80 %
(15 % over) is a warning, though the seed's example calls it HIGH.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import ExtractHour
from django.utils import timezone

from alerts import recommendations
from alerts.constants import (
    OPEN_STATUSES,
    SEVERITY_RANK,
    Category,
    EventKind,
    Severity,
    Status,
    parse_category,
    parse_severity,
)
from alerts.models import Alert as AlertRecord
from alerts.models import AlertEvent, AlertRule
from alerts.signals import alert_changed, alert_fired, alert_transition
from opsconsole.live import publish_now
from opsconsole.prepared import NO_FLUSH_WAIT, server_cursor

ALERTS_GROUP = "alerts"
_REPEAT_FIELDS = (
    "id",
    "fingerprint",
    "title",
    "message",
    "severity",
    "status",
    "resource",
    "notification_count",
    "error_count",
    "affected_users",
    "value",
    "last_seen",
    "suppressed_until",
    "rule",
)
# Repeats of an open alert are counted on the alert; the timeline notes the first one
# and any that comes after this long a quiet spell.
DEDUP_EVENT_EVERY = timedelta(minutes=1)
MAX_SUPPRESS_HOURS = 24 * 30


class AlertPriority(enum.StrEnum):
    """Seed 001's priority names, mapped onto the one severity scale."""

    LOW = Severity.INFO.value
    MEDIUM = Severity.WARNING.value
    HIGH = Severity.ERROR.value
    CRITICAL = Severity.CRITICAL.value


AlertCategory = Category


class AlertStateError(ValueError):
    """The alert cannot make that transition (e.g. acknowledging a resolved alert)."""


@dataclass
class Alert:
    """What to raise. ``AlertService.create_alert`` stores it, or counts a repeat."""

    alert_type: str
    title: str
    message: str
    priority: AlertPriority | Severity | str = AlertPriority.MEDIUM
    category: Category | str = Category.SYSTEM
    resource: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    recommendations: list[str] = field(default_factory=list)
    stack_trace: str = ""
    related_logs: str = ""
    affected_users: int = 0
    error_count: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    notification_channels: list[str] | None = None
    value: float | None = None
    threshold: float | None = None
    rule: AlertRule | None = None
    expires_in: timedelta | None = None
    # Computed only when the alert is new: a repeat keeps the recommendations it has,
    # and a storm of repeats should not query process tables 10,000 times.
    recommend: Callable[[], list[str]] | None = None

    @property
    def severity(self) -> Severity:
        return parse_severity(self.priority)


def fingerprint_of(alert_type: str, resource: str, labels: dict | None = None) -> str:
    """Same type, resource and labels: the same problem."""
    items = tuple(sorted((labels or {}).items()))
    try:
        return _fingerprint(alert_type, resource, items)
    except TypeError:  # a label value that cannot be hashed (a list): not cached
        return _fingerprint.__wrapped__(alert_type, resource, items)


def open_alert(alert_type: str, resource: str) -> AlertRecord | None:
    """The open alert of this type on this resource (without labels), if any: at most
    one, by the fingerprint's partial unique index."""
    return AlertRecord.objects.filter(
        fingerprint=fingerprint_of(alert_type, resource), status__in=OPEN_STATUSES
    ).first()


# A storm fires the same few problems thousands of times: hash each once.
@functools.lru_cache(maxsize=4096)
def _fingerprint(alert_type: str, resource: str, labels: tuple) -> str:
    key = json.dumps([alert_type, resource, labels])
    return hashlib.sha256(key.encode()).hexdigest()


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


def _describe_metric(metric_name: str) -> tuple[str, str]:
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
    def create_alert(self, alert: Alert, *, actor: str = "system") -> AlertRecord:
        """Open a new alert, or count a repeat of the open one with the same fingerprint."""
        severity = alert.severity
        category = parse_category(alert.category)
        if not alert.alert_type or not alert.title:
            raise ValueError("an alert needs an alert_type and a title")
        fingerprint = fingerprint_of(alert.alert_type, alert.resource, alert.labels)
        now = timezone.now()
        counted = self._count_plain_repeat(fingerprint, alert, severity, now, actor)
        if counted is not None:
            return counted
        with transaction.atomic():
            existing = self._open(fingerprint)
            if existing is not None:
                return self._repeat(existing, alert, severity, now, actor)
            try:
                # A savepoint: if another process opens this fingerprint first, the
                # unique constraint stops us and we count a repeat of theirs instead.
                with transaction.atomic():
                    record = AlertRecord.objects.create(
                        fingerprint=fingerprint,
                        alert_type=alert.alert_type,
                        title=alert.title[:300],
                        message=alert.message,
                        severity=severity,
                        category=category,
                        resource=alert.resource,
                        labels=alert.labels,
                        metadata=self._metadata(alert),
                        recommendations=list(alert.recommendations)
                        or (alert.recommend() if alert.recommend else []),
                        stack_trace=alert.stack_trace,
                        related_logs=alert.related_logs,
                        affected_users=alert.affected_users,
                        error_count=alert.error_count,
                        value=alert.value,
                        threshold=alert.threshold,
                        first_seen=now,
                        last_seen=now,
                        expires_at=now + alert.expires_in if alert.expires_in else None,
                        rule=alert.rule,
                    )
            except IntegrityError:
                existing = self._open(fingerprint)
                if existing is None:
                    raise
                return self._repeat(existing, alert, severity, now, actor)
            event = self._event(record, EventKind.FIRED, actor, alert.message)
            transaction.on_commit(lambda: self._announce(record, event, fired=True))
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
    ) -> AlertRecord:
        """'High CPU Usage - web-01': 'CPU is at 92% (threshold: 80%, exceeded by 15.0%)'."""
        word, unit = _describe_metric(metric_name)
        overage = _overage(current_value, threshold_value)
        message = (
            f"{word} is at {_number(current_value)}{unit} "
            f"(threshold: {_number(threshold_value)}{unit}, exceeded by {overage:.1f}%)"
        )
        return self.create_alert(
            Alert(
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
    ) -> AlertRecord:
        """'Slow /api/bookings: P95 api_response_time_ms is 1500 ms (threshold 1000 ms)'."""
        overage = _overage(current_value, threshold_value)
        unit = " ms" if metric_name.endswith("_ms") else ""
        return self.create_alert(
            Alert(
                alert_type=f"performance_{metric_name}",
                title=f"Slow {resource}: {percentile} {metric_name}",
                message=(
                    f"{percentile} {metric_name} is {_number(current_value)}{unit} "
                    f"(threshold: {_number(threshold_value)}{unit}, exceeded by {overage:.1f}%)"
                ),
                priority=priority_for_overage(overage),
                category=Category.PERFORMANCE,
                resource=resource,
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
    ) -> AlertRecord:
        """One alert per error type and place; repeats add to its error count."""
        category = (
            Category.DATABASE
            if "database" in error_type.lower() or "operationalerror" in error_type.lower()
            else Category.APPLICATION
        )
        return self.create_alert(
            Alert(
                alert_type=f"application_error_{error_type}",
                title=f"{error_type} in {source or 'the application'}",
                message=error_message,
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
                recommend=lambda: recommendations.for_error(error_type, error_message),
                stack_trace=stack_trace,
                affected_users=affected_users,
                error_count=error_count,
            )
        )

    # -- lifecycle -----------------------------------------------------------------------
    def acknowledge_alert(
        self, alert_id: int, acknowledged_by: str, notes: str = ""
    ) -> AlertRecord:
        def check(alert: AlertRecord) -> None:
            if alert.status == Status.ACKNOWLEDGED:
                raise AlertStateError(
                    f"alert #{alert.pk} is already acknowledged by {alert.acknowledged_by}"
                )
            if alert.status not in OPEN_STATUSES:
                raise AlertStateError(
                    f"alert #{alert.pk} is {alert.status}; only open alerts can be acknowledged"
                )

        return self._transition(
            alert_id,
            check,
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
    ) -> AlertRecord:
        return self._transition(
            alert_id,
            self._still_open,
            {
                "status": Status.RESOLVED,
                "resolved_by": resolved_by,
                "resolved_at": timezone.now(),
                "resolution_notes": resolution_notes,
            },
            EventKind.RESOLVED,
            resolved_by,
            resolution_notes,
            data,
        )

    def suppress_alert(
        self, alert_id: int, suppressed_by: str, reason: str = "", duration_hours: float = 1
    ) -> AlertRecord:
        try:
            hours = float(duration_hours)
        except (TypeError, ValueError):
            raise ValueError(f"duration_hours must be a number, not {duration_hours!r}") from None
        if not 0 < hours <= MAX_SUPPRESS_HOURS:
            raise ValueError(f"duration_hours must be more than 0 and at most {MAX_SUPPRESS_HOURS}")

        def check(alert: AlertRecord) -> None:
            if alert.status not in OPEN_STATUSES:
                raise AlertStateError(
                    f"alert #{alert.pk} is {alert.status}; only open alerts can be suppressed"
                )

        now = timezone.now()
        until = now + timedelta(hours=hours)
        return self._transition(
            alert_id,
            check,
            {
                "status": Status.SUPPRESSED,
                "suppressed_by": suppressed_by,
                "suppressed_at": now,
                "suppressed_reason": reason,
                "suppressed_until": until,
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
        for alert_id in AlertRecord.objects.filter(
            status__in=OPEN_STATUSES, expires_at__lte=now
        ).values_list("pk", flat=True):
            try:
                self._transition(
                    alert_id,
                    self._still_open,
                    {"status": Status.EXPIRED, "resolved_at": now},
                    EventKind.EXPIRED,
                    "system",
                    "past its expiry time",
                )
            except AlertStateError:
                continue  # resolved meanwhile
            expired += 1
        return expired

    def _transition(
        self,
        alert_id: int,
        check: Callable[[AlertRecord], None],
        changes: dict[str, Any],
        kind: EventKind,
        actor: str,
        reason: str = "",
        data: dict | None = None,
    ) -> AlertRecord:
        """Lock the alert, let ``check`` refuse the change, apply it, and write it to the
        timeline; the change is announced after commit."""
        with transaction.atomic():
            alert = self._locked(alert_id)
            check(alert)
            for name, value in changes.items():
                setattr(alert, name, value)
            alert.save(update_fields=list(changes))
            event = self._event(alert, kind, actor, reason, data)
            transaction.on_commit(lambda: self._announce(alert, event))
        return alert

    @staticmethod
    def _still_open(alert: AlertRecord) -> None:
        if alert.status not in OPEN_STATUSES:
            raise AlertStateError(f"alert #{alert.pk} is already {alert.status}")

    # -- analysis ------------------------------------------------------------------------
    def get_alert_patterns(self, days: int = 7) -> dict[str, Any]:
        """Seed 001's pattern analysis, plus time to acknowledge and the noisiest rules."""
        if days < 1:
            raise ValueError("days must be at least 1")
        since = timezone.now() - timedelta(days=days)
        alerts = AlertRecord.objects.filter(first_seen__gte=since)
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

    # -- internals -----------------------------------------------------------------------
    def _open(self, fingerprint: str) -> AlertRecord | None:
        # Only what a repeat needs: in a storm this runs thousands of times a second,
        # and the other columns (metadata, stack traces) load on first use.
        return (
            AlertRecord.objects.select_for_update()
            .only(*_REPEAT_FIELDS)
            .filter(fingerprint=fingerprint, status__in=OPEN_STATUSES)
            .first()
        )

    def _locked(self, alert_id: int) -> AlertRecord:
        alert = AlertRecord.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise AlertRecord.DoesNotExist(f"no alert #{alert_id}")
        return alert

    def _count_plain_repeat(
        self, fingerprint: str, alert: Alert, severity: Severity, now, actor: str
    ) -> AlertRecord | None:
        """Count a repeat that changes nothing but counters in one statement, or None.

        Most firings in a storm are plain repeats: same or lower severity, not coming
        back from an expired suppression. On PostgreSQL one UPDATE finds, locks and
        counts the open alert and hands back its previous ``last_seen``: one round trip
        where the general path takes five. Anything else (a new alert, an escalation,
        the end of a suppression) matches no row and takes the general path. On SQLite
        every write is already serialised and a statement costs microseconds, so the
        general path serves.
        """
        connection = connections[router.db_for_write(AlertRecord)]
        if connection.vendor != "postgresql":
            return None
        # Outside a transaction of the caller's the UPDATE is its own transaction, and
        # its commit need not wait for the WAL flush (see _plain_repeat_statement).
        sql, attnames = _plain_repeat_statement(severity, not connection.in_atomic_block)
        params = [
            fingerprint,
            now,
            max(alert.error_count, 1),
            now,
            alert.message,
            alert.value,
            alert.affected_users,
        ]
        # Prepared, so a storm plans this UPDATE once per connection instead of on every
        # firing (planning cost more than running it).
        with server_cursor(connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            row = cursor.fetchone()
        if row is None:
            return None
        *values, previous_seen = row
        record = AlertRecord.from_db(connection.alias, attnames, values)
        if record.notification_count == 2 or now - previous_seen >= DEDUP_EVENT_EVERY:
            self._note_repeat(record, actor)
        return record

    def _note_repeat(self, alert: AlertRecord, actor: str) -> None:
        # Noted on the first repeat and after a quiet spell; in between the count on the
        # alert says it, so a storm does not become thousands of timeline rows.
        with transaction.atomic():
            event = self._event(
                alert,
                EventKind.DEDUPLICATED,
                actor,
                f"fired again ({alert.notification_count} times so far)",
            )
            transaction.on_commit(lambda: self._announce(alert, event))

    def _repeat(
        self, existing: AlertRecord, alert: Alert, severity: Severity, now, actor
    ) -> AlertRecord:
        updates: dict[str, Any] = {
            "notification_count": F("notification_count") + 1,
            "error_count": F("error_count") + max(alert.error_count, 1),
            "last_seen": now,
            "message": alert.message,
        }
        if alert.value is not None:
            updates["value"] = alert.value
        if alert.affected_users > existing.affected_users:
            updates["affected_users"] = alert.affected_users
        escalated = SEVERITY_RANK[severity] > existing.severity_rank
        if escalated:
            updates["severity"] = severity
        unsuppressed = (
            existing.status == Status.SUPPRESSED
            and existing.suppressed_until is not None
            and existing.suppressed_until <= now
        )
        if unsuppressed:
            updates["status"] = Status.ACTIVE
        previous_seen = existing.last_seen
        AlertRecord.objects.filter(pk=existing.pk).update(**updates)
        existing.refresh_from_db(fields=[f for f in _REPEAT_FIELDS if f != "id"])
        event = None
        if escalated:
            event = self._event(
                existing,
                EventKind.ESCALATED,
                actor,
                f"severity raised to {severity}: {alert.message}",
            )
        elif unsuppressed:
            event = self._event(
                existing, EventKind.UNSUPPRESSED, actor, "suppression ended; it fired again"
            )
        elif existing.notification_count == 2 or now - previous_seen >= DEDUP_EVENT_EVERY:
            self._note_repeat(existing, actor)
        if event is not None:
            transaction.on_commit(lambda: self._announce(existing, event))
        return existing

    def _metadata(self, alert: Alert) -> dict:
        metadata = dict(alert.metadata)
        if alert.notification_channels is not None:
            metadata["notification_channels"] = [
                getattr(channel, "value", str(channel)) for channel in alert.notification_channels
            ]
        return metadata

    def _event(self, alert, kind, actor, reason="", data=None) -> AlertEvent:
        event = AlertEvent.objects.create(
            alert=alert,
            rule=alert.rule,
            kind=kind,
            actor=actor or "system",
            reason=reason,
            data=data or {},
        )
        # Receivers (the notifications outbox) write in this same transaction: no
        # change without its messages, no message for a change that rolled back.
        alert_transition.send(sender=AlertService, alert=alert, event=event)
        return event

    def _announce(
        self, alert: AlertRecord, event: AlertEvent | None, *, fired: bool = False
    ) -> None:
        if fired:
            alert_fired.send(sender=AlertService, alert=alert)
        else:
            alert_changed.send(sender=AlertService, alert=alert, event=event)
        publish_now(
            ALERTS_GROUP,
            {
                "type": "alert.changed",
                "alert_id": alert.pk,
                "event_id": event.pk if event else None,
                "status": alert.status,
                "severity": alert.severity,
            },
        )


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


def _sql_list(values) -> str:
    return ", ".join("'" + str(v) + "'" for v in values)


@functools.cache
def _plain_repeat_statement(severity: Severity, own_commit: bool) -> tuple[str, list[str]]:
    """The UPDATE that counts a plain repeat of an alert of ``severity`` or worse, and
    the fields it returns (built once per severity and mode).

    The state and severity lists are written into the statement rather than sent as
    array parameters: encoding two arrays took a fifth of a firing's Python time.

    ``own_commit``: the statement runs as its own transaction (the caller holds none),
    so it sets ``synchronous_commit`` off for that transaction alone. Its commit then
    does not wait for the WAL flush, which was two thirds of a repeat's time in a storm.
    What is at stake is a counter: a crash of the database server within the WAL
    writer's delay (0.2 s by default, up to three times that) could forget the last
    repeats counted, never a new alert, an escalation or a notification, which take the
    general path and commit as usual.
    """
    table = AlertRecord._meta.db_table
    # In the model's order, which is the order from_db() reads values in.
    fields = [f for f in AlertRecord._meta.concrete_fields if f.name in _REPEAT_FIELDS]
    columns = ", ".join(f"a.{f.column}" for f in fields)
    not_worse = [s for s in Severity if SEVERITY_RANK[s] >= SEVERITY_RANK[severity]]
    no_flush_wait = f", {NO_FLUSH_WAIT}" if own_commit else ""
    sql = f"""
        WITH open_alert AS (
            SELECT id, last_seen FROM {table}
            WHERE fingerprint = %s
              AND status IN ({_sql_list(OPEN_STATUSES)})
              AND severity IN ({_sql_list(not_worse)})
              AND NOT (status = '{Status.SUPPRESSED}' AND suppressed_until IS NOT NULL
                       AND suppressed_until <= %s)
            FOR UPDATE
        )
        UPDATE {table} AS a SET
            notification_count = a.notification_count + 1,
            error_count = a.error_count + %s,
            last_seen = %s,
            message = %s,
            value = COALESCE(%s, a.value),
            affected_users = GREATEST(a.affected_users, %s)
        FROM open_alert{no_flush_wait} WHERE a.id = open_alert.id
        RETURNING {columns}, open_alert.last_seen
    """
    return sql, [f.attname for f in fields]
