"""The API's shapes for alerts, alert rules, silences and inhibition rules: what
``alerts.api`` reads and answers.

Answers that are a row's columns are ModelSchemas of the model (``AlertColumns``,
``RuleColumns``, ...) with ``opsconsole.apitools.StoredColumns`` mixed in, and what is
not a column added by a subclass, so the document describes each column as the model
does. A new rule's body is a union discriminated on its kind (``kind``, or seed 002's
``rule_type``; system_metric when both are left out): each kind's schema lists the
fields that kind reads, so a field of another kind is a 422 rather than stored unused
(left at its default, as a GET returns it, it is let through and ignored). A PATCH may
change the kind, so ``RulePatch`` takes every field and ``rule_changes`` checks those it
names against the rule's kind. A PATCH schema types its fields without None where the
column takes no null (``opsconsole.apitools.NOT_SENT``): the handlers read it with
``exclude_unset``, so a field not sent is not changed and an explicit null is a 422."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import models
from ninja import Field, ModelSchema, Schema
from ninja.errors import HttpError
from pydantic import BeforeValidator, ConfigDict, Discriminator, JsonValue, Tag
from pydantic_core import PydanticCustomError

from alerts.constants import Category, parse_severity
from alerts.constants import Status as AlertStatus
from alerts.filtering import AlertFilter
from alerts.models import HOLD_BOUNDS, Alert, AlertEvent, AlertRule, InhibitionRule, Silence
from opsconsole.apitools import (
    MAX_INT,
    NOT_SENT,
    StoredColumns,
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


class AlertColumns(StoredColumns, ModelSchema):
    class Meta:
        model = Alert
        fields = [
            "id",
            "alert_type",
            "title",
            "message",
            "severity",
            "category",
            "status",
            "resource",
            "labels",
            "value",
            "threshold",
            "notification_count",
            "first_seen",
            "last_seen",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "suppressed_until",
        ]


class AlertOut(AlertColumns):
    rule_id: int | None = Field(..., description="the rule that raised it; null: none")


class EventOut(StoredColumns, ModelSchema):
    class Meta:
        model = AlertEvent
        fields = ["id", "kind", "actor", "reason", "data", "created"]


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


class RuleColumns(StoredColumns, ModelSchema):
    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "metric",
            "process",
            "service",
            "host",
            "operator",
            "threshold",
            "clear_threshold",
            "window_seconds",
            "aggregation",
            "min_samples",
            "for_seconds",
            "severity",
            "category",
            "labels",
            "cooldown_seconds",
            "repeat_interval_seconds",
            "enabled",
            "description",
            "runbook_url",
            "recommendations",
            "broken_reason",
            "broken_since",
        ]


class RuleOut(RuleColumns):
    """A rule; every column whatever its kind (the kind's schema says which it reads)."""

    recommendations: list = Field(..., description="advice shown with each of its alerts")
    broken_reason: str = Field(
        ..., description="why the evaluator could not evaluate the rule; empty when it can"
    )
    broken_since: datetime | None = Field(..., description="since when it is broken")


# -- a rule's body, per kind ------------------------------------------------------------------

RuleKind = Literal[
    "system_metric",
    "process_metric",
    "service_health",
    "custom_metric",
    "absence",
    "latency",
    "trend",
]
Operator = Literal["gt", "gte", "lt", "lte", "eq", "ne"]
_SEED_OPERATORS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "==": "eq", "!=": "ne"}
# Minutes a seed 002 body gives, turned into the whole seconds a rule stores: within the
# longest hold a rule takes (30 days), so no number overflows on the way (not a 500).
Minutes = Annotated[float | None, Field(None, ge=0, le=HOLD_BOUNDS[1] / 60)]


class SeedCondition(Schema):
    """Seed 002's rule condition: what every kind's takes. Keys a kind does not know are
    ignored, as they always were."""

    operator: str | None = Field(None, description="> >= < <= == != (or gt, gte, ...)")
    threshold: float | None = None
    time_window_minutes: Minutes = Field(None, description="the window, in minutes")


class MetricCondition(SeedCondition):
    metric_type: str | None = Field(None, examples=["cpu_usage_percent"])


class AbsenceCondition(Schema):
    metric_type: str | None = Field(None, examples=["cpu_usage_percent"])
    time_window_minutes: Minutes = Field(None, description="silent for this long: no data")


class ProcessCondition(SeedCondition):
    process_name: str | None = Field(None, examples=["python"])
    metric_field: str | None = Field(None, description="memory_percent, or cpu_percent (default)")


class ServiceCondition(SeedCondition):
    service_name: str | None = Field(None, examples=["chat-service"])
    max_response_time_ms: float | None = Field(
        None, description="slower answers (or a service down) fire: threshold and operator gt"
    )


class RuleCondition(MetricCondition, ProcessCondition, ServiceCondition):
    """A PATCH's condition: the keys of every kind's (the rule's kind keeps its own)."""


CONDITION_OF: dict[str, type[Schema]] = {
    "system_metric": MetricCondition,
    "custom_metric": MetricCondition,
    "latency": MetricCondition,
    "trend": MetricCondition,
    "absence": AbsenceCondition,
    "process_metric": ProcessCondition,
    "service_health": ServiceCondition,
}


class RuleSettings(Schema):
    """What every kind of rule takes. Typed without None where the column takes no null:
    an explicit null is refused (422); the default None only stands for "not sent" (the
    handlers read the body with exclude_unset)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(NOT_SENT, min_length=1)
    enabled: bool = NOT_SENT
    description: str = NOT_SENT
    runbook_url: str = Field(NOT_SENT, description="a link shown with its alerts (https assumed)")
    window_seconds: int = Field(NOT_SENT, description="the window it reads, 5 s to 30 days")
    for_seconds: int = Field(
        NOT_SENT, description="how long the condition must hold before the alert fires"
    )
    severity: str = Field(NOT_SENT, description="info, warning, error, critical (or aliases)")
    category: str = Field(NOT_SENT, description=", ".join(Category.values))
    cooldown_seconds: int = NOT_SENT
    repeat_interval_seconds: int = NOT_SENT
    recommendations: list[str] = Field(NOT_SENT, description="advice shown with each alert")
    cooldown_minutes: Minutes = Field(None, description="seed 002: cooldown_seconds / 60")
    # What a GET returns may be sent back: these are ignored.
    id: int | None = Field(None, description="ignored")
    broken_reason: str | None = Field(None, description="ignored")
    broken_since: datetime | None = Field(None, description="ignored")


class SeriesSettings(Schema):
    """The series a metric or no-data rule reads."""

    metric: str = Field(
        NOT_SENT, description='a metric, or one series of it: disk_usage_percent{mount="/"}'
    )
    labels: dict[str, Any] = Field(
        NOT_SENT, description="only the series with these labels (strings); empty: every one"
    )
    host: str = Field(NOT_SENT, description="only this host; blank: every host")


class ReadingSettings(Schema):
    """How a rule reads its window and when the reading breaches."""

    aggregation: str = Field(
        NOT_SENT, description="avg, max, min, last, count, rate, p50, p95 or p99 (default avg)"
    )
    operator: Operator = Field(NOT_SENT, description="compares the reading to the threshold")
    threshold: float | None = None
    clear_threshold: float | None = Field(
        None, description="resolve only past this value (hysteresis); null: the threshold"
    )
    min_samples: int | None = Field(
        None, description="fewer samples in the window and the rule waits; null: the kind's"
    )


class ProcessSettings(Schema):
    process: str = Field(NOT_SENT, description="the process name to watch")
    metric: str = Field(NOT_SENT, description="memory_percent, or cpu_percent (the default)")
    host: str = Field(NOT_SENT, description="only this host; blank: every host")


class ServiceSettings(Schema):
    service: str = Field(NOT_SENT, description="a service endpoint's name; * for every one")
    aggregation: str = Field(
        NOT_SENT,
        description="the response times in ms: avg (default), max, min, last, p50, p95, p99; "
        "or the failed checks: count, rate (per second)",
    )


class NewRule(RuleSettings):
    """A new rule; fields left out take the model's defaults."""

    name: str = Field(..., min_length=1)
    kind: str  # each kind's schema names its own

    def rule_fields(self) -> dict[str, Any]:
        """The rule's fields as the admin's form takes them (seed 002's shape read)."""
        return {**model_fields(self.kind, self.model_dump(exclude_unset=True)), "kind": self.kind}


SEED_KIND = "seed 002's name for kind"
SEED_CONDITION = "seed 002: what the rule checks"


class MetricRule(NewRule, SeriesSettings, ReadingSettings):
    """What the kinds over stored metric samples take."""

    condition: MetricCondition | None = Field(None, description=SEED_CONDITION)


# A body of any kind but the default names it, as kind or rule_type: the document then
# matches each body to one kind's schema, as the discriminator does.
NAMES_ITS_KIND: list[JsonValue] = [
    {"required": ["kind"]},
    {"required": ["rule_type"], "properties": {"rule_type": {"type": "string"}}},
]


class KindNamed(Schema):
    model_config = ConfigDict(json_schema_extra={"anyOf": NAMES_ITS_KIND})


class SystemMetricRuleIn(MetricRule):
    """A rule over the metrics the console collects (the default kind)."""

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
    kind: Literal["system_metric"] = Field(
        "system_metric", description="the default when neither kind nor rule_type is given"
    )
    rule_type: Literal["system_metric"] | None = Field(None, description=SEED_KIND)


class CustomMetricRuleIn(MetricRule, KindNamed):
    """A rule over a metric pushed over the API, which may not have arrived yet."""

    kind: Literal["custom_metric"] = "custom_metric"
    rule_type: Literal["custom_metric"] | None = Field(None, description=SEED_KIND)


class LatencyRuleIn(MetricRule, KindNamed):
    """A rule over a latency metric, usually a percentile (p95, p99); it waits for five
    samples in its window unless min_samples says otherwise."""

    kind: Literal["latency"] = "latency"
    rule_type: Literal["latency"] | None = Field(None, description=SEED_KIND)


class TrendRuleIn(MetricRule, KindNamed):
    """A rule over a metric's growth over its window."""

    kind: Literal["trend"] = "trend"
    rule_type: Literal["trend"] | None = Field(None, description=SEED_KIND)
    threshold: float | None = Field(None, description="growth per hour, in the metric's unit")


class AbsenceRuleIn(NewRule, SeriesSettings, KindNamed):
    """Fires when a series sends nothing for its window: no threshold, no reading."""

    kind: Literal["absence"] = "absence"
    rule_type: Literal["absence"] | None = Field(None, description=SEED_KIND)
    condition: AbsenceCondition | None = Field(None, description=SEED_CONDITION)


class ProcessRuleIn(NewRule, ProcessSettings, ReadingSettings, KindNamed):
    """A rule over each process of a name, per host and PID (each its own alert)."""

    kind: Literal["process_metric"] = "process_metric"
    rule_type: Literal["process_metric"] | None = Field(None, description=SEED_KIND)
    condition: ProcessCondition | None = Field(None, description=SEED_CONDITION)


class ServiceRuleIn(NewRule, ServiceSettings, ReadingSettings, KindNamed):
    """A rule over a service endpoint's checks: response times, or failed checks; a
    response-time rule also fires while the endpoint's newest checks all failed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": NAMES_ITS_KIND,
            "examples": [
                {
                    "name": "Chat Service Down",
                    "rule_type": "service_health",
                    "condition": {"service_name": "chat-service", "max_response_time_ms": 5000},
                    "severity": "critical",
                    "cooldown_minutes": 5,
                }
            ],
        },
    )
    kind: Literal["service_health"] = "service_health"
    rule_type: Literal["service_health"] | None = Field(None, description=SEED_KIND)
    condition: ServiceCondition | None = Field(None, description=SEED_CONDITION)
    threshold: float | None = Field(None, description="ms, or failed checks (count, rate)")


RULE_SCHEMAS: dict[str, type[NewRule]] = {
    "system_metric": SystemMetricRuleIn,
    "process_metric": ProcessRuleIn,
    "service_health": ServiceRuleIn,
    "custom_metric": CustomMetricRuleIn,
    "absence": AbsenceRuleIn,
    "latency": LatencyRuleIn,
    "trend": TrendRuleIn,
}
# The fields every kind takes, and those only some kinds read.
_COMMON = frozenset(NewRule.model_fields) | {"kind", "rule_type", "condition"}
_KIND_ONLY = frozenset().union(*(s.model_fields for s in RULE_SCHEMAS.values())) - _COMMON


def kind_of(body: Any) -> str | None:
    """A rule body's kind: ``rule_type`` (seed 002), else ``kind``, else system_metric;
    None (a 422) for one that is no kind."""
    if isinstance(body, dict):
        kind = body.get("rule_type") or body.get("kind") or "system_metric"
    else:
        kind = getattr(body, "kind", None)
    return kind if isinstance(kind, str) and kind in RULE_SCHEMAS else None


def readers_of(field: str) -> list[str]:
    """The kinds that read ``field``."""
    return [kind for kind, schema in RULE_SCHEMAS.items() if field in schema.model_fields]


@functools.cache
def stored_default(field: str) -> Any:
    """What a rule that does not read ``field`` keeps in it (what a GET shows)."""
    column = AlertRule._meta.get_field(field)
    return column.get_default() if isinstance(column, models.Field) else None


def other_kinds_fields(kind: str, named: dict[str, Any], same: Any = None) -> list[str]:
    """Remove from ``named`` the fields ``kind`` does not read that hold their default
    (or ``same``'s value: a PATCH naming what is stored); what is left of them is a
    problem each, said as a line."""
    problems = []
    for field in [f for f in named if f in _KIND_ONLY and f not in RULE_SCHEMAS[kind].model_fields]:
        value = named[field]
        if value == stored_default(field) or (same is not None and value == getattr(same, field)):
            del named[field]
        else:
            readers = ", ".join(readers_of(field))
            problems.append(f"{field}: {kind} rules do not read it ({readers} rules do)")
    return problems


def _only_the_kinds_fields(body: Any) -> Any:
    """A new rule's body without the other kinds' fields left at their defaults (a GET's
    whole rule may be sent back); one of them set is a 422 naming who reads it."""
    kind = kind_of(body)
    if not isinstance(body, dict) or kind is None:
        return body  # the discriminator says what is wrong
    body = dict(body)
    if problems := other_kinds_fields(kind, body):
        raise PydanticCustomError("other_kind", "; ".join(problems).replace("{", "{{"))
    return body


RuleIn = Annotated[
    Annotated[SystemMetricRuleIn, Tag("system_metric")]
    | Annotated[ProcessRuleIn, Tag("process_metric")]
    | Annotated[ServiceRuleIn, Tag("service_health")]
    | Annotated[CustomMetricRuleIn, Tag("custom_metric")]
    | Annotated[AbsenceRuleIn, Tag("absence")]
    | Annotated[LatencyRuleIn, Tag("latency")]
    | Annotated[TrendRuleIn, Tag("trend")],
    Discriminator(
        kind_of,
        custom_error_type="kind",
        custom_error_message=f"kind (or rule_type) must be one of: {', '.join(RULE_SCHEMAS)}",
    ),
    BeforeValidator(_only_the_kinds_fields),
]


class RulePatch(RuleSettings, SeriesSettings, ReadingSettings, ProcessSettings, ServiceSettings):
    """The fields a PATCH changes (only those it names), in this API's shape or seed
    002's (``rule_type``, ``condition``, ``cooldown_minutes``). It may change the kind;
    each field named must be one the rule's (new) kind reads, unless it holds what is
    stored or the column's default (what a GET returns may be sent back: ``id`` and the
    broken marker are ignored). Only the thresholds and ``min_samples`` take null."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"threshold": 90, "for_seconds": 120}]}
    )
    kind: RuleKind = Field(NOT_SENT, description="changes what the rule reads")
    rule_type: RuleKind | None = Field(None, description=SEED_KIND)
    metric: str = Field(
        NOT_SENT,
        description="metric kinds: a metric or one series of it; process_metric: "
        "memory_percent or cpu_percent",
    )
    aggregation: str = Field(
        NOT_SENT, description="avg, max, min, last, count, rate, p50, p95 or p99"
    )
    condition: RuleCondition | None = Field(None, description=SEED_CONDITION)


def model_fields(kind: str, named: dict[str, Any]) -> dict[str, Any]:
    """A body's fields (``exclude_unset``) as the rule's: seed 002's ``condition`` (the
    keys ``kind``'s knows) and ``cooldown_minutes`` read, ``rule_type`` and what a GET
    adds (``id``, the broken marker) left out."""
    skipped = {"rule_type", "condition", "cooldown_minutes", "id", "broken_reason", "broken_since"}
    fields = {k: v for k, v in named.items() if k not in skipped}
    known = CONDITION_OF[kind].model_fields
    condition = {
        k: v for k, v in (named.get("condition") or {}).items() if v is not None and k in known
    }
    if "metric_type" in condition:
        fields["metric"] = condition["metric_type"]
    if "process_name" in condition:
        fields["process"] = condition["process_name"]
        fields["metric"] = condition.get("metric_field", "cpu_percent")
        # Seed 002 compared each process's value as it was read: the worst reading in
        # the window, per process, unless the rule says otherwise.
        fields.setdefault("aggregation", "max")
    if "service_name" in condition:
        fields["service"] = condition["service_name"]
        if "max_response_time_ms" in condition:
            fields["threshold"] = condition["max_response_time_ms"]
            fields["operator"] = "gt"
    if "operator" in condition:
        fields["operator"] = _SEED_OPERATORS.get(condition["operator"], condition["operator"])
    if "threshold" in condition:
        fields["threshold"] = condition["threshold"]
    if "time_window_minutes" in condition:
        fields["window_seconds"] = int(condition["time_window_minutes"] * 60)
    if named.get("cooldown_minutes") is not None:
        fields["cooldown_seconds"] = int(named["cooldown_minutes"] * 60)
    return fields


def rule_changes(payload: RulePatch, rule: AlertRule) -> dict[str, Any]:
    """What a PATCH changes on ``rule``, as the admin's form takes it; a field its kind
    (the one the PATCH names, or the stored one) does not read is a 422."""
    named = payload.model_dump(exclude_unset=True)
    if named.get("rule_type") and named.get("kind", named["rule_type"]) != named["rule_type"]:
        raise HttpError(422, "kind: rule_type names another kind")
    kind = named.get("rule_type") or named.get("kind") or rule.kind
    fields = model_fields(kind, named)
    if named.get("rule_type"):
        fields["kind"] = kind
    if problems := other_kinds_fields(kind, fields, same=rule):
        raise HttpError(422, "; ".join(problems))
    return fields


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


class SilenceColumns(StoredColumns, ModelSchema):
    class Meta:
        model = Silence
        fields = ["id", "matchers", "starts_at", "ends_at", "recurrence", "comment"]


class SilenceOut(SilenceColumns):
    matchers: list[dict[str, Any]] = Field(
        ..., description="each {field, op, value}; all must match"
    )
    created_by: str | None = Field(None, description="the username; null: not recorded")
    state: str = Field(..., description="pending, active or expired")

    @staticmethod
    def resolve_created_by(obj: Silence) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id and obj.created_by else None

    @staticmethod
    def resolve_state(obj: Silence) -> str:
        return obj.state()


class MatcherIn(Schema):
    field: str = Field(..., description="alert_type, resource, severity, category or label:<name>")
    value: str
    op: str = Field("eq", description="eq, or regex (RE2 syntax, matching the whole value)")


class SilencePatch(Schema):
    """The fields a PATCH changes (only those it names). ``matchers`` and ``ends_at``
    take no null; a null start is now, a null window none, a null comment empty."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ends_at": "2026-11-23T23:10:00Z"}]},
    )
    matchers: list[MatcherIn] = NOT_SENT
    starts_at: datetime | None = Field(None, description="null: now")
    ends_at: datetime = NOT_SENT
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


class InhibitionColumns(StoredColumns, ModelSchema):
    class Meta:
        model = InhibitionRule
        fields = [
            "name",
            "enabled",
            "source_matchers",
            "target_matchers",
            "equal",
            "description",
            "id",
            "created",
            "updated",
        ]


class InhibitionOut(InhibitionColumns):
    source_matchers: list[MatcherSchema] = Field(..., description="the inhibiting alert's")
    target_matchers: list[MatcherSchema] = Field(
        ..., description="the held alerts'; empty: every alert"
    )
    equal: list[str] = Field(..., description="fields both must share")
