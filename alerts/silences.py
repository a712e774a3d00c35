"""Which silence, if any, mutes an alert now: time bounds, weekly windows, matchers."""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.models import Silence


def in_force(now: datetime) -> list[Silence]:
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def matching(silences: list[Silence], fields: dict[str, str], now: datetime) -> Silence | None:
    """The first silence whose window covers ``now`` and whose matchers all match.

    ``fields``: alert_type, resource, severity, category, and ``label:<name>`` entries.
    """
    for silence in silences:
        if _in_window(silence, now) and all(_matches(m, fields) for m in silence.matchers):
            return silence
    return None


def _matches(matcher: dict, fields: dict[str, str]) -> bool:
    actual = fields.get(str(matcher.get("field")))
    if actual is None:
        return False
    wanted = str(matcher.get("value", ""))
    if matcher.get("op", "eq") == "regex":
        # Patterns were checked when the silence was saved (length, no nested repetition).
        return re.fullmatch(wanted, actual) is not None
    return actual == wanted


def _in_window(silence: Silence, now: datetime) -> bool:
    recurrence = silence.recurrence or {}
    if not recurrence:
        return True
    try:
        zone = ZoneInfo(recurrence.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    start = _clock(recurrence.get("start", "00:00"))
    end = _clock(recurrence.get("end", "23:59"))
    weekdays = set(recurrence.get("weekdays") or range(7))
    moment = local.time()
    if start <= end:
        return local.weekday() in weekdays and start <= moment < end
    # A window over midnight (22:00-02:00) belongs to the day it starts on.
    if moment >= start:
        return local.weekday() in weekdays
    return (local.weekday() - 1) % 7 in weekdays and moment < end


def _clock(text: str) -> time:
    hours, _, minutes = str(text).partition(":")
    return time(int(hours) % 24, int(minutes or 0) % 60)
