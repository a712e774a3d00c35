"""Dashboard widget endpoints under /api/v1/: seed 002's dashboard overview and metrics
summary, seed 000's vitals widget, and the audit stream with cursor pagination."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from alerts import console
from alerts.constants import OPEN_STATUSES, Status
from alerts.models import Alert
from metrics import rollups
from metrics.api import RANGES
from metrics.models import Host, Metric
from metrics.vitals import CRITICAL_LOAD, NO_DATA, OK, local_host, summarize
from opsconsole import audit
from opsconsole.apitools import answers
from opsconsole.auth import api_auth

dashboard_router = Router(tags=["dashboard"])
widgets_router = Router(tags=["widgets"])
audit_router = Router(tags=["audit"])

# What the metrics summary reports per host, with units.
SUMMARY_METRICS = [
    ("cpu_usage_percent", "%"),
    ("memory_usage_percent", "%"),
    ("swap_usage_percent", "%"),
    ("load_1m", "load"),
    ("network_received_bytes_per_second", "B/s"),
    ("network_sent_bytes_per_second", "B/s"),
]


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


def _alert_counts(now) -> dict:
    day_ago = now - timedelta(hours=24)
    by_status = dict(
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "open": sum(by_status.values()),
        "open_by_severity": console.open_counts(),
        "acknowledged": by_status.get(Status.ACKNOWLEDGED, 0),
        "suppressed": by_status.get(Status.SUPPRESSED, 0),
        "fired_last_24h": Alert.objects.filter(first_seen__gte=day_ago).count(),
        "resolved_last_24h": Alert.objects.filter(
            status=Status.RESOLVED, resolved_at__gte=day_ago
        ).count(),
    }


@dashboard_router.get(
    "/overview",
    response=answers({200: OverviewOut}),
    auth=api_auth(),
    url_name="dashboard_overview",
)
def dashboard_overview(request):
    """Everything a wallboard shows at a glance: host states and open alerts."""
    now = timezone.now()
    summaries = [summarize(host) for host in Host.objects.filter(enabled=True)]
    statuses = [s["status"] for s in summaries]
    latest = console.most_severe_first(Alert.objects.filter(status__in=OPEN_STATUSES))[:5]
    return {
        "time": now,
        "hosts": {
            "total": len(summaries),
            "healthy": statuses.count(OK),
            "critical_load": statuses.count(CRITICAL_LOAD),
            "no_data": statuses.count(NO_DATA),
            "stale": sum(1 for s in summaries if s["stale"]),
        },
        "alerts": _alert_counts(now),
        "critical_hosts": sorted(s["hostname"] for s in summaries if s["status"] == CRITICAL_LOAD),
        "latest_alerts": [
            {
                "id": a.pk,
                "title": a.title,
                "severity": a.severity,
                "status": a.status,
                "resource": a.resource,
                "last_seen": a.last_seen.isoformat(),
            }
            for a in latest
        ],
    }


@dashboard_router.get(
    "/metrics/summary",
    response=answers({200: MetricsSummaryOut}, 404, 422),
    auth=api_auth(),
    url_name="dashboard_metrics_summary",
)
def dashboard_metrics_summary(
    request,
    range: str = Query("1h", description=f"one of {', '.join(RANGES)}"),
    host: str | None = Query(None, description="one host (default: every enabled host)"),
):
    """Last, average, minimum and maximum of the main series per host, for charts."""
    if range not in RANGES:
        raise HttpError(400, f"range must be one of {', '.join(RANGES)}")
    hosts = Host.objects.filter(enabled=True).order_by("hostname")
    if host:
        hosts = hosts.filter(hostname=host)
        if not hosts:
            raise HttpError(404, f"no host named {host!r}")
    end = timezone.now()
    start = end - timedelta(seconds=RANGES[range])
    metrics = {m.key: m for m in Metric.objects.filter(key__in=[k for k, _ in SUMMARY_METRICS])}
    out = []
    for chosen in hosts:
        rows = []
        for key, unit in SUMMARY_METRICS:
            metric = metrics.get(key)
            points: list[rollups.Point] = []
            if metric is not None:
                _, _, points = rollups.series(chosen.pk, metric.pk, start, end, max_points=240)
            values = [p.value for p in points if p.value is not None]
            rows.append(
                {
                    "metric": key,
                    "unit": unit,
                    "last": values[-1] if values else None,
                    "avg": round(sum(values) / len(values), 3) if values else None,
                    "min": min((p.min for p in points), default=None),
                    "max": max((p.max for p in points), default=None),
                    "points": len(points),
                }
            )
        out.append(
            {"hostname": chosen.hostname, "status": summarize(chosen)["status"], "metrics": rows}
        )
    return {"range": range, "start": start, "end": end, "hosts": out}


@widgets_router.get(
    "/vitals",
    response=answers({200: VitalsOut}, 404, 422),
    auth=api_auth(),
    url_name="widget_vitals",
)
def widget_vitals(
    request, host: str | None = Query(None, description="default: this console's host")
):
    """Seed 000's ``get_system_vitals()``: status is CRITICAL_LOAD when CPU, memory or
    the fullest disk is over its threshold."""
    if host:
        chosen = Host.objects.filter(hostname=host).first()
        if chosen is None:
            raise HttpError(404, f"no host named {host!r}")
    else:
        chosen = local_host() or Host.objects.order_by("-last_seen").first()
        if chosen is None:
            raise HttpError(404, "no host has reported yet")
    vitals = summarize(chosen)
    open_alerts = Alert.objects.filter(status__in=OPEN_STATUSES, resource=chosen.hostname).count()
    return {
        **{name: vitals[name] for name in VitalsOut.model_fields if name in vitals},
        "thresholds": {
            "cpu": settings.CPU_ALERT_THRESHOLD,
            "memory": settings.MEMORY_ALERT_THRESHOLD,
            "disk": settings.DISK_ALERT_THRESHOLD,
        },
        "open_alerts": open_alerts,
    }


@audit_router.get(
    "", response=answers({200: AuditPage}, 422), auth=api_auth(), url_name="list_audit"
)
def list_audit(request, query: Query[AuditQuery]):
    """The audit stream, newest first; page back with ``cursor`` = ``next_cursor``."""
    try:
        kind = audit.parse_kind(query.kind)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    found = audit.entries(kind=kind, actor=query.actor or "", q=query.q or "", before=query.cursor)
    items = list(found[: query.limit + 1])
    more = len(items) > query.limit
    items = items[: query.limit]
    return {"items": items, "next_cursor": items[-1].pk if more else None}
