"""The API's shapes for service endpoints, their history and the latency monitor.

A new endpoint's body is a union discriminated on ``kind`` (http when left out): every
kind takes the schedule and recovery fields (``EndpointFields``), an HTTP check its
request and what the answer must hold (``HttpFields``), a heartbeat its schedule
(``HeartbeatFields``), and a field of another kind is refused (422) instead of being
stored unused. A PATCH may change the kind, so it takes all three and the admin's form
checks the merged result. Answers that are a model's row are ninja ``ModelSchema``s
naming the model's fields, with what the API adds beside them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import ModelSchema, Schema
from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from healthchecks.constants import Kind
from healthchecks.models import CheckResult, Flip, ServiceEndpoint
from opsconsole.apitools import NOT_SENT, StoredColumns

MAX_HISTORY = 1000
MAX_LATENCY_MS = 24 * 3600 * 1000.0
Uptime = Annotated[
    dict[str, float | None],
    Field(description="per window (24h, 7d, 30d): the percentage up, null when unknown"),
]


class EndpointOut(StoredColumns, ModelSchema):
    class Meta:
        model = ServiceEndpoint
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "state",
            "state_since",
            "interval_seconds",
            "max_response_time_ms",
            "severity",
            "last_checked",
            "last_response_ms",
            "last_error",
            "consecutive_failures",
        ]

    target: str = Field(..., description="credentials masked for all but admins")
    parent: str | None = Field(..., description="the parent endpoint's name")
    host: str | None = Field(None, description="the host it runs on, by hostname")
    tags: list[Any]
    uptime: Uptime
    badge_url: str
    ping_url: str | None = Field(..., description="a heartbeat's ping address")


# The fields each kind takes, declared once: a new endpoint's body is the common ones
# with its kind's (HttpEndpointIn, HeartbeatEndpointIn, ...), a PATCH all of them.
# Typed without None where the column takes no null: an explicit null is refused (422);
# NOT_SENT only stands for "not sent" (the bodies are read with exclude_unset).
class EndpointFields(Schema):
    """What every kind of endpoint takes; fields left out take the model's defaults."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=120)
    target: str = Field(NOT_SENT, description="a URL, host:port or database alias")
    enabled: bool = NOT_SENT
    tags: list[str] = NOT_SENT
    parent: str | None = Field(None, description="the parent endpoint's name")
    host: str | None = Field(
        None, description="the hostname of the agent's host it runs on (none: null)"
    )
    severity: str = Field(NOT_SENT, description="info, warning, error, critical (or aliases)")
    interval_seconds: int = NOT_SENT
    timeout_seconds: float = NOT_SENT
    retries: int = Field(NOT_SENT, description="failures before the endpoint is DOWN")
    max_response_time_ms: int | None = Field(None, description="slower: DEGRADED")
    recovery_webhook_url: str = NOT_SENT
    recovery_after_failures: int = NOT_SENT


class HttpFields(Schema):
    """An HTTP check's request and what its answer must hold."""

    http_method: str = NOT_SENT
    http_headers: dict[str, str] = Field(NOT_SENT, description="write-only to viewers")
    accepted_status_codes: str = Field(NOT_SENT, examples=["200-299,301"])
    expect_keyword: str = NOT_SENT
    expect_json_path: str = NOT_SENT
    expect_json_value: str = NOT_SENT
    follow_redirects: bool = NOT_SENT
    tls_expiry_warning_days: int = NOT_SENT


class HeartbeatFields(Schema):
    """When a heartbeat is expected."""

    period_seconds: int = Field(NOT_SENT, description="heartbeat: expected every")
    cron: str = Field(NOT_SENT, description="heartbeat: expected on this schedule instead")
    grace_seconds: int = NOT_SENT
    time_zone: str = NOT_SENT


class EndpointPatch(HttpFields, HeartbeatFields, EndpointFields):
    """The fields a PATCH changes (only those it names), as in the admin's form: any
    kind's, as a PATCH may change the kind. Only ``parent``, ``host`` and
    ``max_response_time_ms`` take null (none); a null elsewhere is refused."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"max_response_time_ms": 800}]})
    name: str = NOT_SENT
    kind: str = Field(
        NOT_SENT, description="http, tcp, database, redis, queue or heartbeat (default http)"
    )


class HttpEndpointIn(HttpFields, EndpointFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "chat-service",
                    "target": "https://chat.example.com/health",
                    "parent": "database",
                    "severity": "critical",
                    "interval_seconds": 15,
                    "max_response_time_ms": 5000,
                }
            ]
        },
    )
    kind: Literal["http"] = Field("http", description="the default")


class TcpEndpointIn(EndpointFields):
    kind: Literal["tcp"]


class DatabaseEndpointIn(EndpointFields):
    kind: Literal["database"]


class RedisEndpointIn(EndpointFields):
    kind: Literal["redis"]


class QueueEndpointIn(EndpointFields):
    kind: Literal["queue"]


class HeartbeatEndpointIn(HeartbeatFields, EndpointFields):
    kind: Literal["heartbeat"]


def _kind_of(body: Any) -> str | None:
    """The body's kind, http when left out; None (a 422) for one that is not a kind."""
    kind = body.get("kind", Kind.HTTP) if isinstance(body, dict) else getattr(body, "kind", None)
    return kind if kind in Kind.values else None


EndpointIn = Annotated[
    Annotated[HttpEndpointIn, Tag(Kind.HTTP)]
    | Annotated[TcpEndpointIn, Tag(Kind.TCP)]
    | Annotated[DatabaseEndpointIn, Tag(Kind.DATABASE)]
    | Annotated[RedisEndpointIn, Tag(Kind.REDIS)]
    | Annotated[QueueEndpointIn, Tag(Kind.QUEUE)]
    | Annotated[HeartbeatEndpointIn, Tag(Kind.HEARTBEAT)],
    Discriminator(
        _kind_of,
        custom_error_type="kind",
        custom_error_message=f"kind must be one of: {', '.join(Kind.values)}",
    ),
]


class ResultOut(StoredColumns, ModelSchema):
    class Meta:
        model = CheckResult
        fields = ["time", "outcome", "response_ms", "status_code", "error"]


class FlipOut(StoredColumns, ModelSchema):
    class Meta:
        model = Flip
        fields = ["time", "old_state", "new_state", "reason"]


class HistoryOut(Schema):
    endpoint: EndpointOut
    results: list[ResultOut]
    flips: list[FlipOut]


class LatencyIn(Schema):
    source: str = Field(min_length=1, max_length=120)
    event_time: datetime | None = None
    commit_time: datetime | None = None
    duration_ms: float | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> LatencyIn:
        if self.duration_ms is None:
            if self.event_time is None or self.commit_time is None:
                raise ValueError("send duration_ms, or both event_time and commit_time")
            if self.event_time.tzinfo is None or self.commit_time.tzinfo is None:
                raise ValueError("event_time and commit_time need a time zone (e.g. Z)")
            self.duration_ms = (self.commit_time - self.event_time).total_seconds() * 1000
        if not 0 <= self.duration_ms <= MAX_LATENCY_MS:
            raise ValueError("the latency must be between 0 and 24 hours")
        return self


class LatencyBatchIn(Schema):
    samples: list[LatencyIn] = Field(min_length=1, max_length=10000)


class StoredOut(Schema):
    stored: int


class ServiceStateOut(Schema):
    id: int
    name: str
    kind: str
    target: str = Field(..., description="credentials masked for all but admins")
    status: str = Field(..., description="up, down, degraded or unknown")
    response_time_ms: float | None
    last_checked: datetime | None
    since: datetime | None
    error: str
    uptime: Uptime


class SystemHealthOut(Schema):
    status: str = Field(..., description="healthy, degraded or unhealthy")
    checked_at: datetime
    summary: dict[str, int] = Field(..., description="endpoints per state")
    services: list[ServiceStateOut]


class HistoryQuery(Schema):
    hours: float = Field(24, gt=0, le=24 * 30)
    limit: int = Field(200, ge=1, le=MAX_HISTORY)


class LatencyFigures(Schema):
    count: int
    avg_ms: float | None = Field(None, description="absent when count is 0")
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class LatencySummaryOut(Schema):
    window_seconds: int
    sources: dict[str, LatencyFigures]
