"""The API's shapes for alerts, alert rules, silences and inhibition rules: what
``alerts.api`` reads and answers. A PATCH schema types its fields without None where
the column takes no null (``opsconsole.apitools.NOT_SENT``): the handlers read it with
``exclude_unset``, so a field not sent is not changed and an explicit null is a 422."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from alerts.constants import Category, parse_severity
from alerts.constants import Status as AlertStatus
from alerts.filtering import AlertFilter
from opsconsole.apitools import (
    MAX_INT,
    NOT_SENT,
)

MAX_PAGE = 200
SILENCE_EXAMPLE: dict[str, Any] = {
    "matchers": [
        {"field": "resource", "op": "regex", "value": "db-0[12]"},
        {"field": "label:team", "value": "payments"},
    ],
    "starts_at": "2026-11-23T22:00:00Z",
    "ends_at": "2026-11-24T02:00:00Z",
    "comment": "database upgrade",
}


class AlertOut(Schema):
    id: int
    alert_type: str
    title: str
    message: str
    severity: str
    category: str
    status: str
    resource: str
    labels: dict
    value: float | None
    threshold: float | None
    notification_count: int
    first_seen: datetime
    last_seen: datetime
    acknowledged_by: str
    acknowledged_at: datetime | None
    resolved_by: str
    resolved_at: datetime | None
    suppressed_until: datetime | None
    rule_id: int | None


class EventOut(Schema):
    id: int
    kind: str
    actor: str
    reason: str
    data: dict
    created: datetime


class AlertDetailOut(AlertOut):
    metadata: dict
    recommendations: list
    stack_trace: str
    related_logs: str
    affected_users: int
    error_count: int
    acknowledge_notes: str
    resolution_notes: str
    suppressed_reason: str
    events: list[EventOut]


class AlertPage(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 1,
                    "limit": 50,
                    "offset": 0,
                    "items": [
                        {
                            "id": 42,
                            "alert_type": "high_cpu",
                            "title": "High CPU Usage - db-01",
                            "message": "cpu_usage_percent avg 93.1 > 85",
                            "severity": "critical",
                            "category": "system",
                            "status": "active",
                            "resource": "db-01",
                            "labels": {},
                            "value": 93.1,
                            "threshold": 85.0,
                            "notification_count": 3,
                            "first_seen": "2026-11-23T07:40:00Z",
                            "last_seen": "2026-11-23T07:59:45Z",
                            "acknowledged_by": "",
                            "acknowledged_at": None,
                            "resolved_by": "",
                            "resolved_at": None,
                            "suppressed_until": None,
                            "rule_id": 1,
                        }
                    ],
                }
            ]
        }
    )
    count: int = Field(..., description="alerts matching the filters")
    limit: int
    offset: int
    items: list[AlertOut]


class AlertFilters(Schema):
    """The console list's filters (``alerts.filtering``): the same question finds the
    same alerts here, on the console page and on its live list."""

    status: str | None = Field(
        None,
        description="active, acknowledged, resolved, suppressed, expired, or open "
        "(active, acknowledged or suppressed), or all (the same as omitted)",
    )
    severity: str | None = Field(None, description="this severity or worse (aliases accepted)")
    category: str | None = None
    resource: str | None = Field(
        None,
        description="case-insensitive, anywhere in the resource: db-0 finds db-01 and orders-db-02",
    )
    host: str | None = Field(None, description="exactly this host: the resource or the host label")
    metric: str | None = Field(None, description="the series label or metric starts with this")
    q: str | None = Field(
        None,
        description="case-insensitive text in the title, message, resource or alert type",
    )
    since: datetime | None = Field(None, description="last seen at or after")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)

    def selection(self) -> AlertFilter:
        """The filter, its values checked (a bad one is a 400 naming the choices)."""
        status = self.status or "all"
        if status not in ("open", "all") and status not in AlertStatus.values:
            choices = ", ".join(AlertStatus.values)
            raise HttpError(400, f"status must be open, all or one of: {choices}")
        severity = ""
        if self.severity:
            try:
                severity = parse_severity(self.severity).value
            except ValueError as exc:
                raise HttpError(400, str(exc)) from None
        category = (self.category or "").lower()
        if category and category not in Category.values:
            raise HttpError(400, f"category must be one of: {', '.join(Category.values)}")
        return AlertFilter(
            status=status,
            severity=severity,
            category=category,
            resource=self.resource or "",
            host=self.host or "",
            metric=self.metric or "",
            q=self.q or "",
            seen_since=self.since,
        )


class AlertIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "alert_type": "database_slow_query",
                    "title": "Slow queries on orders-db",
                    "message": "p95 query time 2.4 s over the last 5 minutes",
                    "severity": "error",
                    "category": "performance",
                    "resource": "orders-db",
                    "labels": {"team": "payments"},
                    "metadata": {"p95_ms": 2400},
                }
            ]
        }
    )
    alert_type: str = Field(..., min_length=1, max_length=120, examples=["database_slow_query"])
    title: str = Field(..., min_length=1, max_length=300)
    message: str = ""
    severity: str = Field(
        "warning", description="info, warning, error, critical (or low/medium/high/emergency)"
    )
    category: str = "system"
    resource: str = Field("", max_length=255)
    labels: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    recommendations: list[str] = Field(default_factory=list)
    stack_trace: str = ""
    related_logs: str = ""
    # The columns' range on both databases: a repeat stores them with a bare UPDATE.
    affected_users: int = Field(0, ge=0, le=MAX_INT)
    error_count: int = Field(1, ge=1, le=MAX_INT)


class AlertActionIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "acknowledge", "notes": "Looking into it"},
                {"action": "suppress", "notes": "maintenance window", "duration_hours": 2},
            ]
        }
    )
    action: Literal["acknowledge", "resolve", "suppress"]
    notes: str = Field("", max_length=5000)
    duration_hours: float | None = Field(None, description="suppress only: how long")


class StatsOut(Schema):
    open: int
    open_by_severity: dict[str, int] = Field(..., description="every severity, 0 when none")
    by_status: dict[str, int] = Field(..., description="all alerts, open or not")


class CheckOut(Schema):
    rules: int
    targets: int
    fired: int
    resolved: int
    withheld: int
    broken: int = Field(
        ..., description="rules that could not be evaluated (their broken_reason says why)"
    )
    milliseconds: float


class DecisionOut(Schema):
    at: datetime | None = Field(
        None, description="when it was decided; null: as routing and channels stand now"
    )
    stage: str = Field(
        ..., description="rule, dedup, policy, state, group, route, channel or delivery"
    )
    outcome: str = Field(..., examples=["fired", "held", "grouped", "sent", "not sent"])
    summary: str = Field(..., examples=["routing rule 'Errors to email and Slack' sends to ops"])
    channel: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class DecisionsOut(Schema):
    alert_id: int
    decisions: list[DecisionOut]


class RuleOut(Schema):
    id: int
    name: str
    kind: str
    metric: str
    process: str
    service: str
    host: str
    operator: str
    threshold: float | None
    clear_threshold: float | None
    window_seconds: int
    aggregation: str
    min_samples: int | None
    for_seconds: int
    severity: str
    category: str
    labels: dict
    cooldown_seconds: int
    repeat_interval_seconds: int
    enabled: bool
    description: str
    runbook_url: str
    recommendations: list
    # Why the evaluator could not evaluate the rule, since when; empty when it can.
    broken_reason: str
    broken_since: datetime | None


class SeedCondition(Schema):
    """Seed 002's rule condition; keys it does not know are ignored, as they were."""

    metric_type: str | None = Field(None, examples=["cpu_usage_percent"])
    process_name: str | None = None
    metric_field: str | None = Field(None, description="process rules: default cpu_percent")
    service_name: str | None = None
    max_response_time_ms: float | None = None
    operator: str | None = Field(None, description="> >= < <= == != (or gt, gte, ...)")
    threshold: float | None = None
    time_window_minutes: float | None = None


class RulePatch(Schema):
    """The fields a PATCH changes (only those it names), in this API's shape or seed
    002's (``rule_type``, ``condition``, ``cooldown_minutes``). What a GET returns may be
    sent back: ``id`` and the broken marker are ignored. Only the thresholds take null
    (no clear threshold); a null elsewhere is refused, not stored."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"threshold": 90, "for_seconds": 120}]}
    )
    # Typed without None where the column takes no null: an explicit null is refused
    # (422); the default None only stands for "not sent" (the PATCH uses exclude_unset).
    name: str = NOT_SENT
    kind: str = Field(
        NOT_SENT, description="system_metric, process_metric, service_health, latency, absence, ..."
    )
    metric: str = NOT_SENT
    process: str = NOT_SENT
    service: str = NOT_SENT
    host: str = Field(NOT_SENT, description="blank: every host")
    operator: str = Field(NOT_SENT, description="gt, gte, lt, lte, eq, ne")
    threshold: float | None = None
    clear_threshold: float | None = None
    window_seconds: int = NOT_SENT
    aggregation: str = NOT_SENT
    for_seconds: int = NOT_SENT
    severity: str = Field(NOT_SENT, description="info, warning, error, critical (or aliases)")
    category: str = NOT_SENT
    labels: dict[str, Any] = NOT_SENT
    cooldown_seconds: int = NOT_SENT
    repeat_interval_seconds: int = NOT_SENT
    enabled: bool = NOT_SENT
    description: str = NOT_SENT
    runbook_url: str = NOT_SENT
    recommendations: list[str] = NOT_SENT
    rule_type: str | None = Field(None, description="seed 002: the rule's kind")
    condition: SeedCondition | None = Field(None, description="seed 002: what the rule checks")
    cooldown_minutes: float | None = Field(None, description="seed 002: cooldown_seconds / 60")
    id: int | None = Field(None, description="ignored")
    broken_reason: str | None = Field(None, description="ignored")
    broken_since: datetime | None = Field(None, description="ignored")


class RuleIn(RulePatch):
    """A new rule; fields left out take the model's defaults."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "High CPU Usage",
                    "metric": "cpu_usage_percent",
                    "operator": "gt",
                    "threshold": 85.0,
                    "window_seconds": 300,
                    "severity": "error",
                    "cooldown_seconds": 900,
                },
                {
                    "name": "High CPU Usage",
                    "rule_type": "system_metric",
                    "condition": {
                        "metric_type": "cpu_usage_percent",
                        "operator": ">",
                        "threshold": 85.0,
                        "time_window_minutes": 5,
                    },
                    "severity": "high",
                    "cooldown_minutes": 15,
                },
            ]
        },
    )
    name: str = Field(..., min_length=1)


class RuleTemplateOut(Schema):
    key: str
    name: str
    summary: str
    fields: dict[str, Any]
    rule_id: int | None = Field(None, description="the rule of the template's name, if any")
    enabled: bool = False


class MatchOut(Schema):
    host: str
    series: str
    value: float | None
    unit: str
    breached: bool
    down: str = Field("", description="a service rule's endpoint reads as down: why")


class TargetHistoryOut(Schema):
    target: str
    unit: str
    firings: int = Field(..., description="alerts the rule would have raised")
    firing_minutes: int
    peak: float | None = Field(None, description="the worst value seen")
    first_fired: datetime | None
    last_fired: datetime | None


class BacktestOut(Schema):
    hours: int
    firings: int
    firing_minutes: int
    targets: list[TargetHistoryOut]
    source: str = Field(
        ...,
        description="what was replayed: the 1-minute roll-ups (metric rules), the process "
        "samples or the check results",
    )


class PreviewOut(Schema):
    rule: int
    now: list[MatchOut] = Field(..., description="every series the rule reads, breaches first")
    backtest: BacktestOut


class SilenceOut(Schema):
    id: int
    matchers: list
    starts_at: datetime
    ends_at: datetime
    recurrence: dict
    comment: str
    created_by: str | None = None
    state: str = Field(..., description="pending, active or expired")

    @staticmethod
    def resolve_created_by(obj) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id else None

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.state()


class MatcherIn(Schema):
    field: str = Field(..., description="alert_type, resource, severity, category or label:<name>")
    value: str
    op: str = Field("eq", description="eq, or regex (RE2 syntax, matching the whole value)")


class SilencePatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ends_at": "2026-11-23T23:10:00Z"}]},
    )
    matchers: list[MatcherIn] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    recurrence: dict[str, Any] | None = Field(
        None, description='e.g. {"weekdays": [5, 6], "start": "22:00", "end": "06:00"}'
    )
    comment: str | None = None


class SilenceIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [SILENCE_EXAMPLE]})
    matchers: list[MatcherIn]
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime
    recurrence: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""


class MatcherSchema(Schema):
    field: str = Field(..., description="alert_type, resource, severity, category, "
                       "rule_kind, or label:<name>")  # fmt: skip
    op: Literal["eq", "regex"] = "eq"
    value: str


class InhibitionPatch(Schema):
    """The fields a PATCH changes (only those it names)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})
    name: str = Field(NOT_SENT, min_length=1, max_length=100)
    enabled: bool = NOT_SENT
    source_matchers: list[MatcherSchema] = Field(NOT_SENT, description="the inhibiting alert's")
    target_matchers: list[MatcherSchema] = Field(
        NOT_SENT, description="the held alerts'; empty: every alert"
    )
    equal: list[str] = Field(NOT_SENT, description="fields both must share, e.g. [resource]")
    description: str = NOT_SENT


class InhibitionIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "critical beats warning on the same resource",
                    "source_matchers": [{"field": "severity", "op": "eq", "value": "critical"}],
                    "target_matchers": [
                        {"field": "severity", "op": "regex", "value": "warning|info"}
                    ],
                    "equal": ["resource"],
                }
            ]
        }
    )
    name: str = Field(..., min_length=1, max_length=100)
    enabled: bool = True
    source_matchers: list[MatcherSchema] = Field(..., description="the inhibiting alert's")
    target_matchers: list[MatcherSchema] = Field(
        default_factory=list, description="the held alerts'; empty: every alert"
    )
    equal: list[str] = Field(
        default_factory=list, description="fields both must share, e.g. [resource]"
    )
    description: str = ""


class InhibitionOut(InhibitionIn):
    id: int
    created: datetime
    updated: datetime
