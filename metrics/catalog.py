"""Names, units and descriptions of the series the collector produces.

A series key is the metric name plus sorted labels, Prometheus style:
``disk_usage_percent{mount="/"}``. Pushed metrics (business or custom) follow the
same form; unknown names are accepted and stored with no unit unless one is given.
"""

from __future__ import annotations

import re

from metrics.models import Unit

# name -> (unit, description)
KNOWN: dict[str, tuple[str, str]] = {
    "cpu_usage_percent": (Unit.PERCENT, "CPU busy, all cores"),
    "cpu_core_usage_percent": (Unit.PERCENT, "CPU busy, one core"),
    "cpu_iowait_percent": (Unit.PERCENT, "CPU waiting on I/O"),
    "load_1m": (Unit.LOAD, "Load average over 1 minute"),
    "load_5m": (Unit.LOAD, "Load average over 5 minutes"),
    "load_15m": (Unit.LOAD, "Load average over 15 minutes"),
    "memory_usage_percent": (Unit.PERCENT, "Memory in use"),
    "memory_used_bytes": (Unit.BYTES, "Memory in use"),
    "memory_available_bytes": (Unit.BYTES, "Memory available without swapping"),
    "memory_total_bytes": (Unit.BYTES, "Physical memory"),
    "swap_usage_percent": (Unit.PERCENT, "Swap in use"),
    "swap_used_bytes": (Unit.BYTES, "Swap in use"),
    "disk_usage_percent": (Unit.PERCENT, "Filesystem space in use"),
    "disk_used_bytes": (Unit.BYTES, "Filesystem space in use"),
    "disk_free_bytes": (Unit.BYTES, "Filesystem space free"),
    "disk_read_bytes_per_second": (Unit.BYTES_PER_SECOND, "Disk reads"),
    "disk_write_bytes_per_second": (Unit.BYTES_PER_SECOND, "Disk writes"),
    "disk_read_ops_per_second": (Unit.PER_SECOND, "Disk read operations"),
    "disk_write_ops_per_second": (Unit.PER_SECOND, "Disk write operations"),
    "network_sent_bytes_per_second": (Unit.BYTES_PER_SECOND, "Network sent"),
    "network_received_bytes_per_second": (Unit.BYTES_PER_SECOND, "Network received"),
    "network_errors_per_second": (Unit.PER_SECOND, "Network errors and drops"),
    "process_count": (Unit.COUNT, "Processes"),
    "zombie_process_count": (Unit.COUNT, "Zombie processes (exited, never reaped)"),
    "collector_duration_ms": (Unit.MILLISECONDS, "Wall time of one collection"),
    "collector_cpu_ms": (Unit.MILLISECONDS, "CPU time of one collection"),
    "database_connect_ms": (Unit.MILLISECONDS, "Time to open a database connection"),
    "database_query_ms": (Unit.MILLISECONDS, "Time of a trivial query"),
    "database_size_bytes": (Unit.BYTES, "Size of the console's database"),
    "ingest_latency_ms": (Unit.MILLISECONDS, "Batch received to committed"),
}

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:.]{0,127}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
_KEY = re.compile(r"^(?P<name>[^{}]+)(?:\{(?P<labels>.*)\})?$")
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class InvalidMetric(ValueError):
    """A metric name or label that cannot be stored; the message says why."""


def series_key(name: str, labels: dict[str, str] | None = None) -> str:
    if not _NAME.match(name):
        raise InvalidMetric(
            f"metric name {name!r} must start with a letter or _ and hold only "
            "letters, digits, _, : and . (at most 128 characters)"
        )
    if not labels:
        return name
    parts = []
    for label, value in sorted(labels.items()):
        if not _LABEL.match(str(label)):
            raise InvalidMetric(f"label name {label!r} on {name!r} is not valid")
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{label}="{text}"')
    key = f"{name}{{{','.join(parts)}}}"
    if len(key) > 255:
        raise InvalidMetric(f"series {key[:60]!r}... is longer than 255 characters")
    return key


def parse_key(key: str) -> tuple[str, dict[str, str]]:
    """Inverse of series_key: ``disk_usage_percent{mount="/"}`` -> (name, labels)."""
    match = _KEY.match(key.strip())
    if not match:
        raise InvalidMetric(f'series {key!r} is not of the form name or name{{label="v"}}')
    name = match.group("name")
    labels: dict[str, str] = {}
    raw = match.group("labels")
    if raw:
        position = 0
        while position < len(raw):
            pair = _PAIR.match(raw, position)
            if not pair:
                raise InvalidMetric(f'labels of {key!r} are not of the form a="b",c="d"')
            labels[pair.group(1)] = pair.group(2).replace('\\"', '"').replace("\\\\", "\\")
            position = pair.end()
    series_key(name, labels)  # validates
    return name, labels


def unit_of(name: str) -> str:
    known = KNOWN.get(name)
    return known[0] if known else ""


def describe(name: str) -> str:
    known = KNOWN.get(name)
    return known[1] if known else ""
