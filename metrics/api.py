"""Seed 002's system and metrics endpoints under /api/v1/."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router
from ninja.errors import HttpError

from metrics import fleet, rollups, schema
from metrics.catalog import InvalidMetric, series_key
from metrics.ingest import Batch, IngestError, get_latest, ingest_many
from metrics.models import Host, Metric, ProcessSample
from metrics.vitals import summarize
from opsconsole.apitools import RowId, answers, one_or_404
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role

router = Router(tags=["metrics"])
hosts_router = Router(tags=["hosts"])
system_router = Router(tags=["system"])


def get_host(hostname: str) -> Host:
    host = Host.objects.filter(hostname=hostname).first()
    if host is None:
        known = ", ".join(Host.objects.values_list("hostname", flat=True)[:10]) or "none yet"
        raise HttpError(404, f"unknown host {hostname!r} (known: {known})")
    return host


def time_range(
    start: datetime | None, end: datetime | None, range_: str | None
) -> tuple[datetime, datetime]:
    end = end or timezone.now()
    if start is None:
        if range_ is not None and range_ not in schema.RANGES:
            raise HttpError(400, f"range must be one of {', '.join(schema.RANGES)}")
        start = end - timedelta(seconds=schema.RANGES[range_ or "1h"])
    if start >= end:
        raise HttpError(400, "start must be before end")
    if end - start > timedelta(days=800):
        raise HttpError(400, "the range may span at most 800 days")
    return start, end


@router.get(
    "/system", response=answers({200: schema.SeriesOut}, 404, 422), url_name="metrics_system"
)
def metrics_system(request: HttpRequest, query: Query[schema.SeriesQuery]) -> dict[str, Any]:
    """One series over a time range, e.g. ``?host=web-01&metric=cpu_usage_percent&range=24h``.

    ``metric`` is a name (``disk_usage_percent``) with ``labels`` as ``mount=/``, or a full
    series key (``disk_usage_percent{mount="/"}``). Ranges up to 3 h read raw samples,
    up to 7 d 1-minute roll-ups, beyond that 1-hour roll-ups. ``step`` (seconds) and
    ``aggregation`` (avg, min, max, last, count, sum) shape the points.
    """
    host = get_host(query.host)
    start, end = time_range(query.start, query.end, query.range)
    if query.step is not None and query.step < 1:
        raise HttpError(400, "step must be at least 1 second")
    try:
        labels = dict(part.split("=", 1) for part in (query.labels or "").split(",") if "=" in part)
        key = query.metric if "{" in query.metric else series_key(query.metric, labels)
    except InvalidMetric as exc:
        raise HttpError(400, str(exc)) from None
    metric = Metric.objects.filter(key=key).first()
    if metric is None:
        similar = list(
            Metric.objects.filter(name__icontains=query.metric.split("{")[0][:20]).values_list(
                "key", flat=True
            )[:8]
        )
        hint = f" (did you mean: {', '.join(similar)})" if similar else ""
        raise HttpError(404, f"unknown metric {key!r}{hint}")
    try:
        source, step, points = rollups.series(
            host.pk, metric.pk, start, end, step_seconds=query.step, aggregation=query.aggregation
        )
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return {
        "host": host.hostname,
        "metric": metric.key,
        "unit": metric.unit,
        "source": source,
        "step_seconds": step,
        "aggregation": query.aggregation,
        "start": start,
        "end": end,
        "points": points,
    }


@router.get(
    "/processes",
    response=answers({200: list[schema.ProcessOut]}, 404, 422),
    url_name="metrics_processes",
)
def metrics_processes(
    request: HttpRequest, query: Query[schema.ProcessQuery]
) -> QuerySet[ProcessSample] | list[ProcessSample]:
    """The process inventory of a host at a time (default: the latest collection)."""
    host = get_host(query.host)
    if query.sort not in {"cpu", "memory"}:
        raise HttpError(400, "sort must be cpu or memory")
    if not 1 <= query.limit <= 500:
        raise HttpError(400, "limit must be between 1 and 500")
    samples = ProcessSample.objects.filter(host=host)
    if query.at is not None:
        samples = samples.filter(time__lte=query.at)
    moment = samples.order_by("-time").values_list("time", flat=True).first()
    if moment is None:
        return []
    rows = ProcessSample.objects.filter(host=host, time=moment)
    if query.name:
        rows = rows.filter(name__icontains=query.name)
    order = "-cpu_percent" if query.sort == "cpu" else "-rss_bytes"
    return rows.order_by(order)[: query.limit]


@router.get(
    "/latest/{hostname}", response=answers({200: schema.LatestOut}, 404), url_name="metrics_latest"
)
def metrics_latest(request: HttpRequest, hostname: str) -> dict[str, Any]:
    """Every series' newest value for one host, from the cache (no table scan)."""
    host = get_host(hostname)
    latest = get_latest(host)
    units = dict(Metric.objects.filter(key__in=list(latest["values"])).values_list("key", "unit"))
    return {
        "host": host.hostname,
        "time": latest["time"],
        "stale": host.is_stale(settings.METRICS_COLLECTION_INTERVAL),
        "values": latest["values"],
        "units": units,
        "processes": latest.get("processes", []),
    }


@router.get("/hosts", response=answers({200: list[schema.HostOut]}), url_name="metrics_hosts")
def metrics_hosts(request: HttpRequest) -> list[Host]:
    """Every host that has reported, with when it last did and whether it is stale."""
    return list(Host.objects.all())


@router.post(
    "/collect",
    response=answers({200: schema.CollectOut}),
    auth=api_auth(Scope.WRITE, Role.RESPONDER),
    url_name="metrics_collect",
)
def metrics_collect(request: HttpRequest) -> dict[str, Any]:
    """Collect this console's host now (seed 002's manual collection)."""
    from metrics.tasks import collect_local

    result = collect_local()
    return {
        "host": result.host.hostname,
        "samples": result.samples,
        "processes": result.processes,
        "time": result.newest,
    }


@router.post(
    "",
    response=answers({200: schema.IngestOut, 201: schema.IngestOut}, 413, 422),
    auth=api_auth(Scope.INGEST, Role.ADMIN),
    url_name="metrics_ingest",
)
def metrics_ingest(request: HttpRequest, payload: schema.IngestIn) -> HttpResponse:
    """Batch ingest for agents and services (business and custom metrics too).

    All batches of a request are stored or none is: a 4xx means nothing was kept,
    so the sender can fix and resend the whole request. A batch with a ``batch_id``
    that was stored before (a resend after a lost answer) is answered as stored and not
    written again: 201 when the request stored anything, 200 when every batch of it
    was such a resend (``resent_batches`` counts them).
    """
    received = time.perf_counter()
    now = timezone.now()
    batches = []
    try:
        for batch_in in payload.all_batches():
            samples = [
                (
                    series_key(s.metric, s.labels) if s.labels else s.metric,
                    s.value,
                    s.time or now,
                )
                for s in batch_in.samples
            ]
            info = batch_in.host_info.model_dump(exclude_none=True) if batch_in.host_info else {}
            batches.append(
                Batch(
                    hostname=batch_in.host,
                    samples=samples,
                    processes=[p.model_dump() for p in batch_in.processes],
                    process_time=batch_in.process_time,
                    host_info=info,
                    units=batch_in.units,
                    batch_id=batch_in.batch_id,
                )
            )
        results = ingest_many(batches, received_at=received)
    except (IngestError, InvalidMetric) as exc:
        raise HttpError(400, str(exc)) from None
    resent = sum(1 for r in results if r.resent)
    body = {
        "samples": sum(r.samples for r in results),
        "processes": sum(r.processes for r in results),
        "hosts": sorted({r.host.hostname for r in results}),
        "ingest_latency_ms": round((time.perf_counter() - received) * 1000, 2),
        "resent_batches": resent,
    }
    # Rendered here, as ninja renders JSON: every value above is of IngestOut's types
    # by construction, and validating the answer again was a tenth of a batch's time.
    return HttpResponse(
        json.dumps(body),
        status=200 if results and resent == len(results) else 201,
        content_type="application/json; charset=utf-8",
    )


@system_router.get(
    "/overview", response=answers({200: schema.SystemOverviewOut}), url_name="system_overview"
)
def system_overview(request: HttpRequest) -> dict[str, Any]:
    """Every host's vitals at a glance, worst first (seed 002's system overview)."""
    hosts = [summarize(host) for host in Host.objects.filter(enabled=True)]
    order = {"CRITICAL_LOAD": 0, "NO_DATA": 1, "HEALTHY": 2}
    hosts.sort(key=lambda h: (order.get(h["status"], 3), h["hostname"]))
    for host in hosts:
        host.pop("processes", None)
    return {
        "time": timezone.now().isoformat(),
        "host_count": len(hosts),
        "critical_hosts": sum(1 for h in hosts if h["status"] == "CRITICAL_LOAD"),
        "stale_hosts": sum(1 for h in hosts if h["stale"]),
        "hosts": hosts,
    }


def _fleet_host(host: fleet.FleetHost) -> dict[str, Any]:
    from urllib.parse import urlencode

    from django.urls import reverse

    return {
        **{
            name: getattr(host, name)
            for name in schema.FleetHostOut.model_fields
            if hasattr(host, name)
        },
        "system_monitor": f"{reverse('system_monitor')}?{urlencode({'host': host.hostname})}",
    }


@hosts_router.get("", response=answers({200: schema.FleetOut}, 422), url_name="list_hosts")
def list_hosts(request: HttpRequest, query: Query[schema.FleetQuery]) -> dict[str, Any]:
    """The fleet, as the Hosts page shows it: each enabled host's state (ok, critical
    load, no data, stale), CPU, memory and fullest disk with the last hour's trend, when
    it was last seen and its open alerts; searched, filtered, sorted and paginated."""
    page = fleet.fleet(
        q=query.q,
        state=query.state,
        sort=query.sort,
        descending=query.order == "desc",
        page=query.page,
        per_page=query.per_page,
    )
    return {
        "count": page.count,
        "page": page.number,
        "pages": page.pages,
        "per_page": page.per_page,
        "states": page.states,
        "hosts": [_fleet_host(host) for host in page.hosts],
    }


@hosts_router.get(
    "/{host_id}", response=answers({200: schema.FleetHostOut}, 404, 422), url_name="get_host"
)
def get_fleet_host(request: HttpRequest, host_id: RowId) -> dict[str, Any]:
    """One host's row of the fleet (404 for a host that is unknown or disabled)."""
    host = one_or_404(Host.objects.filter(enabled=True), "enabled host", pk=host_id)
    (found,) = fleet.fleet(host_ids=[host.pk]).hosts
    return _fleet_host(found)
