"""The API's shapes for the dashboard, its widgets and the audit log: what
``dashboard.api`` reads and answers."""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Schema
from pydantic import ConfigDict

from metrics.vitals import CRITICAL_LOAD, NO_DATA, OK
from opsconsole import audit


class HostCounts(Schema):
    total: int
    healthy: int
    critical_load: int
    no_data: int
    stale: int


class AlertCounts(Schema):
    open: int
    open_by_severity: dict[str, int]
    acknowledged: int
    suppressed: int
    fired_last_24h: int
    resolved_last_24h: int


class OverviewOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "time": "2026-11-23T08:00:00Z",
                    "hosts": {
                        "total": 3,
                        "healthy": 2,
                        "critical_load": 1,
                        "no_data": 0,
                        "stale": 0,
                    },
                    "alerts": {
                        "open": 4,
                        "open_by_severity": {"critical": 1, "error": 0, "warning": 3, "info": 0},
                        "acknowledged": 1,
                        "suppressed": 0,
                        "fired_last_24h": 9,
                        "resolved_last_24h": 5,
                    },
                    "critical_hosts": ["db-01"],
                    "latest_alerts": [
                        {
                            "id": 42,
                            "title": "High CPU Usage - db-01",
                            "severity": "critical",
                            "status": "active",
                            "resource": "db-01",
                            "last_seen": "2026-11-23T07:59:45Z",
                        }
                    ],
                }
            ]
        }
    )

    time: datetime
    hosts: HostCounts
    alerts: AlertCounts
    critical_hosts: list[str]
    latest_alerts: list[dict]


class SeriesSummary(Schema):
    metric: str
    unit: str
    last: float | None
    avg: float | None
    min: float | None
    max: float | None
    points: int


class HostSummary(Schema):
    hostname: str
    status: str
    metrics: list[SeriesSummary]


class MetricsSummaryOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "range": "1h",
                    "start": "2026-11-23T07:00:00Z",
                    "end": "2026-11-23T08:00:00Z",
                    "hosts": [
                        {
                            "hostname": "web-01",
                            "status": "HEALTHY",
                            "metrics": [
                                {
                                    "metric": "cpu_usage_percent",
                                    "unit": "%",
                                    "last": 23.5,
                                    "avg": 18.2,
                                    "min": 4.0,
                                    "max": 71.3,
                                    "points": 240,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    range: str
    start: datetime
    end: datetime
    hosts: list[HostSummary]


class VitalsOut(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hostname": "web-01",
                    "time": "2026-11-23T08:00:00Z",
                    "status": "CRITICAL_LOAD",
                    "cpu_percent": 93.1,
                    "memory_percent": 62.0,
                    "disk_percent": 41.5,
                    "swap_percent": 0.0,
                    "load": [3.2, 2.8, 2.1],
                    "stale": False,
                    "thresholds": {"cpu": 80.0, "memory": 85.0, "disk": 90.0},
                    "open_alerts": 1,
                }
            ]
        }
    )

    hostname: str
    time: str | None = Field(None, description="when the values were sampled (UTC)")
    status: str = Field(..., description=f"{OK}, {CRITICAL_LOAD} (over a threshold) or {NO_DATA}")
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None = Field(None, description="the fullest filesystem")
    swap_percent: float | None
    load: list[float | None] = Field(..., description="1, 5 and 15 minute load averages")
    stale: bool
    thresholds: dict[str, float] = Field(..., description="percent; over one: CRITICAL_LOAD")
    open_alerts: int = Field(..., description="open alerts on this host")


class AuditOut(Schema):
    id: int
    created: datetime
    kind: str
    actor: str
    summary: str
    object_type: str
    object_id: str
    data: dict


class AuditPage(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": 812,
                            "created": "2026-11-23T07:58:02Z",
                            "kind": "alert_action",
                            "actor": "bob",
                            "summary": "bob acknowledged alert #42: High CPU Usage - db-01",
                            "object_type": "alerts.alert",
                            "object_id": "42",
                            "data": {"action": "acknowledged", "notes": "Investigating"},
                        }
                    ],
                    "next_cursor": 812,
                }
            ]
        }
    )

    items: list[AuditOut]
    next_cursor: int | None = Field(
        None, description="pass as `cursor` for older entries; null: no more"
    )


class AuditQuery(Schema):
    kind: str | None = Field(None, description=f"one of: {', '.join(audit.AuditEntry.Kind.values)}")
    actor: str | None = None
    q: str | None = Field(None, description="text in the summary")
    cursor: int | None = Field(None, ge=1, description="`next_cursor` of the previous page")
    limit: int = Field(50, ge=1, le=200)
