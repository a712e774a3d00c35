"""Dashboard widget endpoints under /api/v1/: seed 002's dashboard overview and metrics
summary, seed 000's vitals widget, and the audit stream with cursor pagination."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from ninja import Query, Router
from ninja.errors import HttpError

from alerts import console
from alerts.constants import OPEN_STATUSES, Status
from alerts.models import Alert
from dashboard.schema import (
    AuditPage,
    AuditQuery,
    MetricsSummaryOut,
    OverviewOut,
    VitalsOut,
)
from metrics import rollups
from metrics.models import Host, Metric
from metrics.schema import RANGES
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
