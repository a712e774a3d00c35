from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from alerts.console import gauge_alerts
from metrics import history
from metrics.api import RANGES
from metrics.models import Host
from metrics.vitals import local_host, summarize
from opsconsole.panels import panels_for
from opsconsole.roles import Role, role_required


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


def _source(request) -> dict:
    """The chart source asked for, and the query-string tail that keeps it in links."""
    source = history.chosen_source(request.GET.get("source"))
    return {"source": source, "source_param": "&source=console" if source == "console" else ""}


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
        # Other apps' widgets (the data sources' latency pulse).
        "panels": panels_for("system_monitor", request),
        **_source(request),
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
    choice = _source(request)
    found = history.chart_history(host, start, end, choice["source"])
    context = {
        "host": host,
        "charts": found.charts,
        "history": found,
        "prometheus_url": history.prometheus_display_url() if settings.PROMETHEUS_URL else "",
        "range": chosen,
        "ranges": list(RANGES),
        **choice,
    }
    return render(request, "metrics/partials/charts.html", context)
