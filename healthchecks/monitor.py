"""Seed 000's health monitor API, from its new home::

from healthchecks.monitor import get_health_monitor

physician = get_health_monitor()
vitals = physician.get_system_vitals()       # "status": HEALTHY | CRITICAL_LOAD | NO_DATA
services = physician.check_service_health()  # every endpoint's state, as the API shows
"""

from __future__ import annotations

from django.utils import timezone

from healthchecks.constants import State
from healthchecks.models import ServiceEndpoint
from healthchecks.runner import gap_cutoff
from healthchecks.uptime import uptimes
from metrics.vitals import NO_DATA, local_host, summarize


class HealthMonitor:
    def get_system_vitals(self) -> dict:
        host = local_host()
        if host is None:
            return {"status": NO_DATA, "cpu_percent": None, "memory_percent": None}
        vitals = summarize(host)
        vitals.pop("processes", None)
        return vitals

    def check_service_health(self) -> dict:
        return service_health()


def service_health(*, reveal: bool = True) -> dict:
    """Every enabled endpoint's state and the overall status (seed 002's system/health).
    Targets show their credentials only with ``reveal`` (admins over the API)."""
    now = timezone.now()
    endpoints = list(ServiceEndpoint.objects.filter(enabled=True))
    figures = uptimes([e.pk for e in endpoints], now, {e.pk: e.state for e in endpoints})
    services = []
    counts = {state: 0 for state in State.values}
    for endpoint in endpoints:
        stale = endpoint.last_checked is not None and endpoint.last_checked < gap_cutoff(
            endpoint, now
        )
        state = State.UNKNOWN.value if stale else endpoint.state
        counts[state] += 1
        services.append(
            {
                "id": endpoint.pk,
                "name": endpoint.name,
                "kind": endpoint.kind,
                "target": endpoint.target if reveal else endpoint.target_for_display(),
                "status": state,
                "response_time_ms": endpoint.last_response_ms,
                "last_checked": endpoint.last_checked.isoformat()
                if endpoint.last_checked
                else None,
                "since": endpoint.state_since.isoformat() if endpoint.state_since else None,
                "error": endpoint.last_error,
                "uptime": figures.get(endpoint.pk, {}),
            }
        )
    if counts[State.DOWN]:
        overall = "unhealthy"
    elif counts[State.DEGRADED] or counts[State.UNKNOWN]:
        overall = "degraded"
    else:
        overall = "healthy"
    return {
        "status": overall,
        "checked_at": now.isoformat(),
        "summary": counts,
        "services": services,
    }


_monitor = HealthMonitor()


def get_health_monitor() -> HealthMonitor:
    return _monitor
