"""The monitor monitors itself: when collection or checking stops, say so once.

A "monitoring gap" alert is raised when the console's own collector has not reported,
the scheduler's lease has not been renewed, or checks have not run for about three
intervals; the endpoints that missed their checks become UNKNOWN (not DOWN), so the
console returning from a stall does not page for every service at once. The alert
resolves itself once everything is fresh again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts import pipeline
from alerts.constants import Category, Severity
from alerts.spec import AlertSpec
from healthchecks.models import ServiceEndpoint
from healthchecks.runner import gap_cutoff
from healthchecks.state import mark_unknown
from opsconsole.models import SchedulerLease

GAP_ALERT = "monitoring_gap"
GAP_RESOURCE = "opsconsole"


def find_gaps(now: datetime) -> tuple[list[str], list[ServiceEndpoint]]:
    problems: list[str] = []
    if settings.COLLECT_LOCAL_HOST:
        from metrics.vitals import local_host

        host = local_host()
        limit = timedelta(seconds=3 * settings.METRICS_COLLECTION_INTERVAL + 30)
        if host is not None and host.last_seen and host.last_seen < now - limit:
            problems.append(f"no samples from {host.hostname} since {_at(host.last_seen)}")
    lease = SchedulerLease.objects.filter(name="ticker").first()
    # A lease without a heartbeat (one made in the admin) has never been renewed.
    heartbeat = lease.heartbeat if lease is not None else now
    if heartbeat is None or heartbeat < now - timedelta(seconds=30):
        since = "its lease was made" if heartbeat is None else _at(heartbeat)
        problems.append(f"the scheduler has not run since {since}")
    stale = [
        e
        # A broken endpoint is not checked on purpose and says so itself: not a gap.
        for e in ServiceEndpoint.objects.filter(
            enabled=True, last_checked__isnull=False, broken_since__isnull=True
        ).exclude(kind="heartbeat")
        if e.last_checked is not None and e.last_checked < gap_cutoff(e, now)
    ]
    if stale:
        names = ", ".join(e.name for e in stale[:5]) + (" ..." if len(stale) > 5 else "")
        problems.append(f"{len(stale)} checks have not run for 3 intervals ({names})")
    return problems, stale


def watch(now: datetime | None = None) -> list[str]:
    """One pass; returns the problems found (empty when all is fresh)."""
    now = now or timezone.now()
    problems, stale = find_gaps(now)
    if problems:
        mark_unknown(stale, "monitoring gap: the checks stopped running", now)
        pipeline.raise_alert(
            AlertSpec(
                alert_type=GAP_ALERT,
                title="Monitoring gap: the console is not watching",
                message="; ".join(problems),
                priority=Severity.ERROR,
                category=Category.SYSTEM,
                resource=GAP_RESOURCE,
                recommendations=[
                    "Check that the task workers run (manage.py qcluster, or serve)",
                    "Check the scheduler (manage.py ticker, or the web process's thread)",
                ],
            ),
            actor="healthchecks",
        )
    else:
        pipeline.clear_alert(
            GAP_ALERT, GAP_RESOURCE, actor="healthchecks", note="monitoring is fresh again"
        )
    return problems


def _at(when: datetime) -> str:
    return when.isoformat(timespec="seconds")
