"""One check cycle: probe the given endpoints concurrently, then step their states.

The probes share one event loop and one HTTP connection pool; everything that touches
the database happens before or after the loop, in a few set-wise statements.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Min, Q
from django.utils import timezone

from healthchecks import heartbeats
from healthchecks.constants import Kind
from healthchecks.models import INTERVAL_BOUNDS, ServiceEndpoint
from healthchecks.probes import ProbeResult, http_client, probe
from healthchecks.state import Transition, apply_results, mark_unknown
from opsconsole.bounds import stored_problems

logger = logging.getLogger(__name__)

# Concurrent connections per cycle: a cycle with thousands of endpoints must not open
# thousands of sockets at once.
MAX_CONNECTIONS = 100


@dataclass
class Cycle:
    checked: int = 0
    transitions: list[Transition] = field(default_factory=list)
    unknown: int = 0
    results: list[tuple[ServiceEndpoint, ProbeResult]] = field(default_factory=list)
    # Endpoints set aside as broken (with their reason) instead of checked.
    broken: int = 0


def gap_cutoff(endpoint: ServiceEndpoint, now: datetime) -> datetime:
    """Checked before this, the endpoint missed about three checks: the console, not the
    service, was away."""
    # An interval stored before the bounds (10^12 s) reads as the longest allowed, so
    # pages and the self-watch never overflow on it; the cycle reports it broken.
    interval = min(endpoint.interval_seconds, INTERVAL_BOUNDS[1])
    return now - timedelta(seconds=3 * interval + 30)


def mark_broken(failures: dict[int, str], now: datetime) -> None:
    """Set these endpoints aside with their reason (kept from the first failure on):
    the scheduler stops claiming them until they are saved again or checked by hand."""
    for pk, reason in failures.items():
        reason = reason[:1000]
        if ServiceEndpoint.objects.filter(pk=pk, broken_since__isnull=True).update(
            broken_reason=reason, broken_since=now
        ):
            logger.warning("endpoint %s is broken: %s", pk, reason)
        else:
            ServiceEndpoint.objects.filter(pk=pk).exclude(broken_reason=reason).update(
                broken_reason=reason
            )


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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
    enabled = ServiceEndpoint.objects.filter(enabled=True)
    if endpoint_ids is not None:
        enabled = enabled.filter(pk__in=endpoint_ids)
    endpoints = list(enabled)
    cycle = Cycle()
    if not endpoints:
        return cycle
    # Values stored before the bounds (an interval of 10^12 s) would fail this cycle
    # for every endpoint in it: such an endpoint is reported broken, the rest checked.
    failures = {
        e.pk: "; ".join(problems)
        for e in endpoints
        if (problems := stored_problems(e, ServiceEndpoint.BOUNDED_FIELDS))
    }
    endpoints = [e for e in endpoints if e.pk not in failures]
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
        try:
            late = heartbeats.lateness(endpoint, now)
        except Exception as exc:
            logger.exception("heartbeat deadline of %s failed", endpoint.name)
            failures[endpoint.pk] = _reason(exc)
            continue
        if late is None:
            quiet.append(endpoint.pk)
        else:
            pairs.append((endpoint, late))
    if quiet:
        ServiceEndpoint.objects.filter(pk__in=quiet).update(last_checked=now)
    try:
        cycle.transitions = apply_results(pairs, now)
    except Exception:
        # One endpoint's results must not lose every other's: apply them one by one,
        # and set aside the ones that still fail.
        logger.exception("storing the cycle's results failed; storing them one by one")
        for pair in pairs:
            # (The failed batch already stepped the endpoints in memory.)
            pair[0].refresh_from_db()
            try:
                cycle.transitions += apply_results([pair], now)
            except Exception as exc:
                logger.exception("storing the result of %s failed", pair[0].name)
                failures[pair[0].pk] = _reason(exc)
    cycle.results = [pair for pair in pairs if pair[0].pk not in failures]
    cycle.checked = sum(1 for e in endpoints if e.pk not in failures)
    cycle.broken = len(failures)
    if failures:
        mark_broken(failures, now)
    checked = [e.pk for e in endpoints if e.pk not in failures]
    ServiceEndpoint.objects.filter(pk__in=checked, broken_since__isnull=False).update(
        broken_reason="", broken_since=None
    )
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
        ServiceEndpoint.objects.filter(enabled=True, broken_since__isnull=True)
        .filter(Q(next_check_at__lte=now) | Q(next_check_at__isnull=True))
        .values_list("id", "interval_seconds", "next_check_at")
    )
    by_interval: dict[int, list[tuple[int, datetime | None]]] = {}
    failures: dict[int, str] = {}
    low, high = INTERVAL_BOUNDS
    for pk, interval, next_at in due:
        if not low <= interval <= high:
            # Stored before the bounds: moving it on by 10^12 s overflows, and did so
            # for every endpoint claimed in the same tick.
            failures[pk] = f"interval_seconds: {interval} is outside {low} s to 1 day"
            continue
        by_interval.setdefault(interval, []).append((pk, next_at))
    if failures:
        mark_broken(failures, now)
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
    enabled = ServiceEndpoint.objects.filter(enabled=True, broken_since__isnull=True)
    if enabled.filter(next_check_at__isnull=True).exists():
        return 0.0
    earliest = enabled.aggregate(earliest=Min("next_check_at"))["earliest"]
    if earliest is None:
        return None
    return max((earliest - now).total_seconds(), 0.0)
