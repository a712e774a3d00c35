"""One check cycle: probe the given endpoints concurrently, then step their states.

The probes share one event loop and one HTTP connection pool; everything that touches
the database happens before or after the loop, in a few set-wise statements.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Min, Q
from django.utils import timezone

from healthchecks import heartbeats
from healthchecks.constants import Kind
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import ProbeResult, http_client, probe
from healthchecks.state import Transition, apply_results, mark_unknown

# Concurrent connections per cycle: a cycle with thousands of endpoints must not open
# thousands of sockets at once.
MAX_CONNECTIONS = 100


@dataclass
class Cycle:
    checked: int = 0
    transitions: list[Transition] = field(default_factory=list)
    unknown: int = 0
    results: list[tuple[ServiceEndpoint, ProbeResult]] = field(default_factory=list)


def gap_cutoff(endpoint: ServiceEndpoint, now: datetime) -> datetime:
    """Checked before this, the endpoint missed about three checks: the console, not the
    service, was away."""
    return now - timedelta(seconds=3 * endpoint.interval_seconds + 30)


async def probe_many(endpoints: list[ServiceEndpoint]) -> list[ProbeResult]:
    import httpx

    # Few idle connections kept: httpcore scans every pooled connection per request.
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
    # At most as many probes run as the pool has connections: a probe's clock and
    # timeout then measure the service, never a wait for one of our own connections.
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def one(endpoint: ServiceEndpoint) -> ProbeResult:
        async with slots:
            return await probe(endpoint, client)

    async with http_client(limits=limits) as client:
        return list(await asyncio.gather(*(one(e) for e in endpoints)))


def run_checks(endpoint_ids: list[int] | None = None, *, now: datetime | None = None) -> Cycle:
    """Check the enabled endpoints among ``endpoint_ids`` (all enabled ones if None)."""
    now = now or timezone.now()
    endpoints = ServiceEndpoint.objects.filter(enabled=True)
    if endpoint_ids is not None:
        endpoints = endpoints.filter(pk__in=endpoint_ids)
    endpoints = list(endpoints)
    cycle = Cycle()
    if not endpoints:
        return cycle
    stale = [
        e for e in endpoints if e.last_checked is not None and e.last_checked < gap_cutoff(e, now)
    ]
    if stale:
        cycle.unknown = mark_unknown(stale, "monitoring gap: the checks stopped running", now)
    probed = [e for e in endpoints if e.kind != Kind.HEARTBEAT]
    pairs: list[tuple[ServiceEndpoint, ProbeResult]] = []
    if probed:
        pairs.extend(zip(probed, asyncio.run(probe_many(probed)), strict=True))
    quiet = []
    for endpoint in endpoints:
        if endpoint.kind != Kind.HEARTBEAT:
            continue
        late = heartbeats.lateness(endpoint, now)
        if late is None:
            quiet.append(endpoint.pk)
        else:
            pairs.append((endpoint, late))
    if quiet:
        ServiceEndpoint.objects.filter(pk__in=quiet).update(last_checked=now)
    cycle.checked = len(endpoints)
    cycle.results = pairs
    cycle.transitions = apply_results(pairs, now)
    return cycle


def claim_due(now: datetime | None = None) -> list[int]:
    """Ids of the endpoints due now, each moved on to its next due time.

    Next due times follow a grid (previous due + interval), so a late tick does not
    drift later checks; an endpoint far behind (after a pause) starts afresh from now.
    The updates are conditional on the due time read, so two schedulers never claim
    the same check twice.
    """
    now = now or timezone.now()
    due = list(
        ServiceEndpoint.objects.filter(enabled=True)
        .filter(Q(next_check_at__lte=now) | Q(next_check_at__isnull=True))
        .values_list("id", "interval_seconds", "next_check_at")
    )
    by_interval: dict[int, list[tuple[int, datetime | None]]] = {}
    for pk, interval, next_at in due:
        by_interval.setdefault(interval, []).append((pk, next_at))
    claimed: list[int] = []
    for interval, rows in by_interval.items():
        step = timedelta(seconds=max(interval, 1))
        on_grid = [pk for pk, at in rows if at is not None and now - at < step]
        behind = [pk for pk, at in rows if at is None or now - at >= step]
        if on_grid:
            ServiceEndpoint.objects.filter(pk__in=on_grid, next_check_at__lte=now).update(
                next_check_at=F("next_check_at") + step
            )
            claimed.extend(on_grid)
        if behind:
            ServiceEndpoint.objects.filter(pk__in=behind).filter(
                Q(next_check_at__lte=now - step) | Q(next_check_at__isnull=True)
            ).update(next_check_at=now + step)
            claimed.extend(behind)
    return claimed


def seconds_to_next_due(now: datetime | None = None) -> float | None:
    """How long until the next enabled endpoint is due (0 if one already is); None when
    there is none."""
    now = now or timezone.now()
    enabled = ServiceEndpoint.objects.filter(enabled=True)
    if enabled.filter(next_check_at__isnull=True).exists():
        return 0.0
    earliest = enabled.aggregate(earliest=Min("next_check_at"))["earliest"]
    if earliest is None:
        return None
    return max((earliest - now).total_seconds(), 0.0)
