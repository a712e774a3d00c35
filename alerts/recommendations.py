"""Context-aware recommendations (seed 001 §2): what to look at first, given the alert."""

from __future__ import annotations

from metrics.models import Host, ProcessSample


def for_metric(metric_name: str, resource: str) -> list[str]:
    name = metric_name.lower()
    if "cpu" in name or name.startswith("load"):
        return [*_top_processes(resource, "cpu"), *_CPU]
    if "memory" in name or "swap" in name:
        return [*_top_processes(resource, "memory"), *_MEMORY]
    if "disk" in name:
        return [f"Find the largest consumers on {resource}: du -xh / | sort -h | tail -20", *_DISK]
    if "latency" in name or "response" in name or "time" in name:
        return list(_PERFORMANCE)
    return ["Compare with the metric's history on the System Monitor to see when it changed."]


def for_error(error_type: str, message: str) -> list[str]:
    text = f"{error_type} {message}".lower()
    if any(word in text for word in ("database", "operationalerror", "psycopg", "sql")):
        return list(_DATABASE)
    if "memory" in text:
        return list(_MEMORY)
    if "timeout" in text or "timed out" in text:
        return list(_TIMEOUT)
    return [
        "Read the stack trace from the top frame in this application's code.",
        "Check what was deployed or reconfigured just before the first occurrence.",
        "Reproduce with the request that failed (endpoint and payload in the metadata).",
    ]


def _top_processes(hostname: str, by: str) -> list[str]:
    """The heaviest processes of the host's latest process sample, with their PIDs."""
    host = Host.objects.filter(hostname=hostname).first()
    if host is None:
        return []
    latest = ProcessSample.objects.filter(host=host).order_by("-time").values("time").first()
    if latest is None:
        return []
    order = "-cpu_percent" if by == "cpu" else "-rss_bytes"
    rows = ProcessSample.objects.filter(host=host, time=latest["time"]).order_by(order)[:3]
    return [
        f"{p.name} (PID {p.pid}) uses {p.cpu_percent:.1f} % CPU and "
        f"{p.memory_percent:.1f} % memory: inspect it with htop -p {p.pid}"
        for p in rows
    ]


_CPU = [
    "Check for runaway processes and restart the one misbehaving if it is safe to.",
    "Review deployments and cron jobs that started in the last hour.",
    "If the load lasts over 30 minutes, scale out or move work off this host.",
]
_MEMORY = [
    "Look for a process whose memory only grows (a leak): compare RSS across samples.",
    "Take a heap dump or memory profile of the largest process before restarting it.",
    "Check for swap activity; heavy swapping makes everything on the host slow.",
]
_DISK = [
    "Rotate or delete old logs (journalctl --vacuum-time=7d; logrotate).",
    "Check for deleted files still held open: lsof +L1.",
    "Extend the volume or move data before it reaches 100 %.",
]
_PERFORMANCE = [
    "Find the slowest operations in the window (traces, slow query log).",
    "Check what was deployed just before the slowdown.",
    "Profile the endpoint under load; check its database queries and external calls.",
]
_DATABASE = [
    "Check connections against max_connections and the pool's limits.",
    "Verify credentials and network reachability from the application host.",
    "Look for lock waits and long-running queries (pg_stat_activity, pg_locks).",
]
_TIMEOUT = [
    "Check the response times of the dependency that timed out.",
    "Make sure a circuit breaker or retry with backoff protects the call.",
    "Compare the timeout setting with the dependency's usual p99 latency.",
]
