"""Which silence, if any, mutes an alert now: time bounds, weekly windows, matchers.

Asked through ``alerts.policies``, the one place the pipeline consults."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.constants import MATCHER_FIELDS
from alerts.models import Silence
from opsconsole import patterns
from opsconsole.patterns import check_pattern

FIELD_HELP = f"{', '.join(MATCHER_FIELDS)}, or label:<name>"


def matching(silences: list[Silence], fields: dict[str, str], now: datetime) -> Silence | None:
    """The first silence whose window covers ``now`` and whose matchers all match.

    ``fields``: alert_type, resource, severity, category, and ``label:<name>`` entries.
    """
    for silence in silences:
        if silence.is_active(now) and all(matcher_matches(m, fields) for m in silence.matchers):
            return silence
    return None


def known_field(name: str) -> bool:
    return name in MATCHER_FIELDS or (name.startswith("label:") and len(name) > 6)


def check_matchers(matchers, *, allow_empty: bool = False) -> list:
    """Matchers as stored (silences and inhibition rules alike), or ValueError saying
    which one is wrong and why."""
    if not isinstance(matchers, list) or (not matchers and not allow_empty):
        raise ValueError("Give at least one matcher, as a JSON list.")
    for index, matcher in enumerate(matchers, 1):
        if not isinstance(matcher, dict) or not {"field", "value"} <= set(matcher):
            raise ValueError(f'Matcher {index} needs "field" and "value" (and "op": eq or regex).')
        field, op = str(matcher["field"]), matcher.get("op", "eq")
        if not known_field(field):
            raise ValueError(f"Matcher {index}: unknown field {field!r} ({FIELD_HELP}).")
        if op not in {"eq", "regex"}:
            raise ValueError(f"Matcher {index}: op must be eq or regex.")
        if op == "regex":
            try:
                check_pattern(str(matcher["value"]))
            except ValueError as exc:
                raise ValueError(f"Matcher {index}: {exc}") from None
    return matchers


def matcher_matches(matcher: dict, fields: dict[str, str]) -> bool:
    actual = fields.get(str(matcher.get("field")))
    if actual is None:
        return False
    wanted = str(matcher.get("value", ""))
    if matcher.get("op", "eq") == "regex":
        # On RE2: linear in the resource name's length whatever the pattern.
        return patterns.fullmatch(wanted, actual)
    return actual == wanted


RECURRENCE_KEYS = {"weekdays", "start", "end", "timezone"}
_DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def describe_matchers(matchers: list) -> str:
    """'resource = db-01, severity ~ warn.*': what a silence mutes, for lists."""
    return ", ".join(
        f"{m.get('field')} {'~' if m.get('op') == 'regex' else '='} {m.get('value')}"
        for m in matchers or []
        if isinstance(m, dict)
    )


def describe_window(recurrence: dict) -> str:
    """'Sat, Sun 22:00-02:00 Europe/Paris', or 'the whole period'."""
    if not recurrence:
        return "the whole period"
    days = recurrence.get("weekdays") or list(range(7))
    named = "every day" if len(days) == 7 else ", ".join(_DAY_NAMES[d] for d in sorted(days))
    return (
        f"{named} {recurrence.get('start', '00:00')}-{recurrence.get('end', '23:59')} "
        f"{recurrence.get('timezone', 'UTC')}"
    )


def check_recurrence(recurrence) -> dict:
    """A weekly window as stored, or ValueError saying what is wrong with it."""
    if recurrence in (None, "", {}):
        return {}
    if not isinstance(recurrence, dict):
        raise ValueError('give a JSON object, e.g. {"weekdays": [5, 6], "start": "22:00", ...}')
    unknown = set(recurrence) - RECURRENCE_KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} (weekdays, start, end, timezone)")
    weekdays = recurrence.get("weekdays", [])
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in weekdays
    ):
        raise ValueError("weekdays must be a list of numbers 0 (Monday) to 6 (Sunday)")
    for key in ("start", "end"):
        if key in recurrence and not _CLOCK.fullmatch(str(recurrence[key])):
            raise ValueError(f"{key} must be a time of day as HH:MM, not {recurrence[key]!r}")
    if recurrence.get("start", "00:00") == recurrence.get("end", "23:59"):
        raise ValueError("start and end are the same time: the window would be empty")
    zone = recurrence.get("timezone", "UTC")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r} (e.g. Europe/Paris, UTC)") from None
    return recurrence


_CLOCK = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


_clock = Silence.clock
