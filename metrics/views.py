from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from metrics import fleet, history
from metrics.models import Host
from metrics.schema import RANGES
from metrics.vitals import local_host, summarize
from opsconsole import thresholds
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
        "gauge_alerts": fleet.gauge_alerts(host.hostname) if host else {},
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
        {
            "host": host,
            "vitals": summarize(host),
            "gauge_alerts": fleet.gauge_alerts(host.hostname),
        },
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


@role_required(Role.VIEWER)
def hosts_page(request):
    """Every host at a glance; rows update live (metrics.consumers.FleetConsumer)."""
    params = fleet.params_from(request.GET)
    return render(request, "metrics/hosts.html", fleet_context(params))


def fleet_context(params: dict) -> dict:
    page = fleet.fleet(**params)
    base = {k: v for k, v in params.items() if k != "page"}
    query = {
        "q": base["q"],
        "state": base["state"],
        "sort": base["sort"],
        "order": "desc" if base["descending"] else "",
    }

    def link(**changes) -> str:
        return urlencode({k: v for k, v in {**query, **changes}.items() if v})

    def sort_link(key: str) -> str:
        # A second click on the sorted column reverses it.
        again = params["sort"] == key and not base["descending"]
        return link(sort=key, order="desc" if again else "")

    columns = [
        (
            key,
            label,
            sort_link(key),
        )
        for key, label in (
            ("state", "State"),
            ("hostname", "Host"),
            ("cpu", "CPU"),
            ("memory", "Memory"),
            ("disk", "Disk (fullest)"),
            ("last_seen", "Last seen"),
            ("alerts", "Open alerts"),
        )
    ]
    return {
        "page": page,
        "params": params,
        "states": fleet.STATES,
        "columns": columns,
        "query": link(page=page.number if page.number > 1 else ""),
        "previous_query": link(page=page.number - 1),
        "next_query": link(page=page.number + 1),
        "state_chips": [
            (key, label, page.states[key], link(state=key)) for key, label in fleet.STATES.items()
        ],
        "total": sum(page.states.values()),
        "all_states_link": link(state=""),
        "thresholds": thresholds.current(),
    }
