"""Uptime from flips: the time spent up (or degraded) over the time the state was known.

One query reads every flip of the last 30 days for the endpoints asked about; the state
at the start of a window is the first flip's old state inside it, or the current state
when nothing changed. Time in UNKNOWN (before the first check, during a monitoring gap)
counts neither way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from healthchecks.constants import State
from healthchecks.models import Flip

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
_UP = {State.UP, State.DEGRADED}


def uptimes(
    endpoint_ids: list[int], now: datetime, current: dict[int, str]
) -> dict[int, dict[str, float | None]]:
    """``{id: {"24h": 99.9, "7d": ..., "30d": ...}}``, percentages or None when unknown."""
    longest = max(WINDOWS.values())
    flips: dict[int, list[tuple[datetime, str, str]]] = {pk: [] for pk in endpoint_ids}
    rows = (
        Flip.objects.filter(endpoint_id__in=endpoint_ids, time__gt=now - longest)
        .order_by("time", "id")
        .values_list("endpoint_id", "time", "old_state", "new_state")
    )
    for pk, at, old, new in rows.iterator():
        flips[pk].append((at, old, new))
    return {
        pk: {
            label: _percent(flips[pk], now - span, now, current.get(pk, State.UNKNOWN))
            for label, span in WINDOWS.items()
        }
        for pk in endpoint_ids
    }


def _percent(flips, start: datetime, now: datetime, current: str) -> float | None:
    inside = [f for f in flips if f[0] > start]
    state = inside[0][1] if inside else current
    at = start
    up = known = 0.0
    for when, _old, new in [*inside, (now, None, None)]:
        span = (when - at).total_seconds()
        if state != State.UNKNOWN:
            known += span
            if state in _UP:
                up += span
        at, state = when, new
    if known <= 0:
        return None
    return round(up / known * 100, 3)
