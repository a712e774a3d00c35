"""Pages and public endpoints: the Services page, heartbeat pings and status badges."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from healthchecks.charts import badge, sparkline
from healthchecks.constants import State
from healthchecks.heartbeats import PingRateLimited, receive_ping
from healthchecks.models import INTERVAL_BOUNDS, CheckResult, ServiceEndpoint
from healthchecks.uptime import uptimes
from opsconsole.roles import Role, role_required

SPARK_RESULTS = 40


def services_context() -> dict:
    now = timezone.now()
    endpoints = list(
        ServiceEndpoint.objects.filter(enabled=True).select_related("parent").order_by("name")
    )
    ids = [e.pk for e in endpoints]
    figures = uptimes(ids, now, {e.pk: e.state for e in endpoints})
    recent: dict[int, list[tuple[float | None, bool]]] = {pk: [] for pk in ids}
    # The newest results per endpoint for the sparklines: one query over a bounded window.
    window = now - min(
        max(
            # (An interval stored before its bounds reads as the longest allowed.)
            (
                timedelta(seconds=min(e.interval_seconds, INTERVAL_BOUNDS[1]) * SPARK_RESULTS)
                for e in endpoints
            ),
            default=timedelta(hours=1),
        ),
        timedelta(hours=24),
    )
    rows = (
        CheckResult.objects.filter(endpoint_id__in=ids, time__gte=window)
        .order_by("time")
        .values_list("endpoint_id", "response_ms", "outcome")
    )
    for pk, ms, outcome in rows.iterator():
        recent[pk].append((ms, outcome == "fail"))
    rows_out = []
    # Problems first: down, then degraded, then unknown, then up; by name within each.
    order: dict[str, int] = {State.DOWN: 0, State.DEGRADED: 1, State.UNKNOWN: 2, State.UP: 3}
    endpoints.sort(key=lambda e: (order.get(e.state, 2), e.name))
    for endpoint in endpoints:
        rows_out.append(
            {
                "endpoint": endpoint,
                "uptime": figures[endpoint.pk],
                "spark": sparkline(recent[endpoint.pk][-SPARK_RESULTS:]),
            }
        )
    counts = {state: sum(1 for e in endpoints if e.state == state) for state in State.values}
    return {"rows": rows_out, "counts": counts, "now": now}


@role_required(Role.VIEWER)
def services(request):
    return render(request, "healthchecks/services.html", services_context())


@role_required(Role.VIEWER)
def pulse_partial(request):
    """The Data Source Pulse panel alone, which the System Monitor polls."""
    from healthchecks.panels import pulse_context

    return render(request, "healthchecks/panels/pulse.html", {"panel": pulse_context()})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping(request, ping_uuid: uuid.UUID, signal: str = "success"):
    """No login: the UUID is the secret. Rate-limited per UUID."""
    try:
        endpoint = receive_ping(ping_uuid, signal, limit=settings.HEALTH_PING_RATE_PER_MINUTE)
    except PingRateLimited:
        return HttpResponse(
            "rate limited: too many pings this minute\n", status=429, content_type="text/plain"
        )
    if endpoint is None:
        return HttpResponse("not found\n", status=404, content_type="text/plain")
    return HttpResponse("OK\n", content_type="text/plain")


@never_cache
def status_badge(request, ref: str):
    """An SVG badge for READMEs and wikis, by the endpoint's UUID or its name."""
    endpoint = None
    with contextlib.suppress(ValueError):
        endpoint = ServiceEndpoint.objects.filter(ping_uuid=uuid.UUID(ref)).first()
    if endpoint is None:
        endpoint = ServiceEndpoint.objects.filter(name=ref).first()
    if endpoint is None:
        raise Http404("no such endpoint")
    state = endpoint.state if endpoint.enabled else State.UNKNOWN
    return render(
        request,
        "healthchecks/badge.svg",
        {"badge": badge(endpoint.name, state)},
        content_type="image/svg+xml",
    )
