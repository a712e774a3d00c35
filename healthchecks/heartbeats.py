"""Heartbeat (cron) checks: services ping the console; silence past the deadline is DOWN.

A ping to ``/ping/<uuid>`` says a run succeeded, ``/start`` that one began (the run's
duration is measured from it), ``/fail`` that one failed. The next ping is expected one
period after the last, or at the cron expression's next time in the endpoint's time
zone; after that plus the grace time the endpoint is late, which is DOWN.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.core.cache import cache
from django.utils import timezone

from healthchecks.constants import Kind, State
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import ProbeResult


class PingRateLimited(Exception):
    pass


def validate_schedule(cron: str, time_zone: str) -> None:
    """ValueError with a one-line message for a bad cron expression or time zone."""
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r}") from None
    if cron:
        try:
            CronSim(cron, timezone.now().astimezone(zone))
        except CronSimError as exc:
            raise ValueError(f"bad cron expression {cron!r}: {exc}") from None


def deadline(endpoint: ServiceEndpoint) -> datetime:
    """When the endpoint becomes late: the next expected ping plus the grace time."""
    base = endpoint.last_ping or endpoint.created or timezone.now()
    # After a monitoring gap (state reset to unknown) pings may have been lost while
    # the console was away: the service gets a full period from the gap's end.
    if endpoint.state == State.UNKNOWN and endpoint.state_since and endpoint.state_since > base:
        base = endpoint.state_since
    if endpoint.cron:
        zone = ZoneInfo(endpoint.time_zone or "UTC")
        expected = next(CronSim(endpoint.cron, base.astimezone(zone)))
    else:
        expected = base + timedelta(seconds=endpoint.period_seconds)
    return expected + timedelta(seconds=endpoint.grace_seconds)


def lateness(endpoint: ServiceEndpoint, now: datetime) -> ProbeResult | None:
    """A failed result when the endpoint is late; None when there is nothing new to say
    (each ping already recorded its own result)."""
    due = deadline(endpoint)
    if now <= due:
        return None
    since = endpoint.last_ping.isoformat(timespec="seconds") if endpoint.last_ping else "never"
    return ProbeResult(
        ok=False,
        error=f"late: no ping since {since}, expected by {due.isoformat(timespec='seconds')}",
    )


def _rate_limit(endpoint_uuid, limit: int) -> None:
    key = f"ping-rate:{endpoint_uuid}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        count = 1
    if count > limit:
        raise PingRateLimited


def receive_ping(endpoint_uuid, signal: str, *, limit: int) -> ServiceEndpoint | None:
    """Record a ping; None when no heartbeat endpoint has that UUID."""
    from healthchecks.state import apply_results

    _rate_limit(endpoint_uuid, limit)
    endpoint = ServiceEndpoint.objects.filter(
        ping_uuid=endpoint_uuid, kind=Kind.HEARTBEAT, enabled=True
    ).first()
    if endpoint is None:
        return None
    now = timezone.now()
    if signal == "start":
        ServiceEndpoint.objects.filter(pk=endpoint.pk).update(last_start=now)
        return endpoint
    duration_ms = None
    if endpoint.last_start and (
        endpoint.last_ping is None or endpoint.last_start > endpoint.last_ping
    ):
        duration_ms = (now - endpoint.last_start).total_seconds() * 1000
    endpoint.last_ping = now
    endpoint.last_duration_ms = duration_ms
    ServiceEndpoint.objects.filter(pk=endpoint.pk).update(
        last_ping=now, last_duration_ms=duration_ms
    )
    if signal == "fail":
        result = ProbeResult(ok=False, response_ms=duration_ms, error="the run reported failure")
    else:
        result = ProbeResult(ok=True, response_ms=duration_ms)
    apply_results([(endpoint, result)], now)
    return endpoint
