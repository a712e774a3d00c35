from __future__ import annotations

from datetime import timedelta

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from alerts.console import gauge_alerts
from metrics import charts, rollups
from metrics.api import RANGES
from metrics.models import Host, Metric
from metrics.vitals import local_host, summarize
from opsconsole.roles import Role, role_required

CHARTS = [
    ("CPU", "cpu_usage_percent", "percent", 100.0),
    ("Memory", "memory_usage_percent", "percent", 100.0),
    ("Load (1 min)", "load_1m", "load", None),
    ("Network received", "network_received_bytes_per_second", "bytes_per_second", None),
    ("Network sent", "network_sent_bytes_per_second", "bytes_per_second", None),
    ("Disk writes", "disk_write_bytes_per_second", "bytes_per_second", None),
]


def _chosen_host(request) -> Host | None:
    hostname = request.GET.get("host")
    if hostname:
        host = Host.objects.filter(hostname=hostname).first()
        if host is None:
            raise Http404(f"No host named {hostname!r}.")
        return host
    return local_host() or Host.objects.order_by("-last_seen").first()


def _range(request) -> str:
    chosen = request.GET.get("range", "1h")
    return chosen if chosen in RANGES else "1h"


@role_required(Role.VIEWER)
def system_monitor(request):
    host = _chosen_host(request)
    context = {
        "host": host,
        "hosts": Host.objects.filter(enabled=True),
        "vitals": summarize(host) if host else None,
        "gauge_alerts": gauge_alerts(host.hostname) if host else {},
        "ranges": list(RANGES),
        "range": _range(request),
    }
    return render(request, "metrics/system_monitor.html", context)


@role_required(Role.VIEWER)
def vitals_partial(request, host_id: int):
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        raise Http404("No such host.")
    return render(
        request,
        "metrics/partials/vitals.html",
        {"host": host, "vitals": summarize(host), "gauge_alerts": gauge_alerts(host.hostname)},
    )


@role_required(Role.VIEWER)
def charts_partial(request, host_id: int):
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        raise Http404("No such host.")
    chosen = _range(request)
    end = timezone.now()
    start = end - timedelta(seconds=RANGES[chosen])
    metrics = {m.key: m for m in Metric.objects.filter(key__in=[key for _, key, _, _ in CHARTS])}
    built = []
    for title, key, unit, fixed_max in CHARTS:
        metric = metrics.get(key)
        points = []
        if metric is not None:
            _, _, points = rollups.series(host.pk, metric.pk, start, end, max_points=240)
        built.append(charts.build(title, unit, points, start, end, fixed_max=fixed_max))
    return render(
        request,
        "metrics/partials/charts.html",
        {"host": host, "charts": built, "range": chosen, "ranges": list(RANGES)},
    )
