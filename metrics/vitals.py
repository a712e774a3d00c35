"""A host's vitals at a glance, from the "latest" cache: what gauges and widgets show."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from metrics.catalog import parse_key
from metrics.ingest import get_latest
from metrics.models import Host
from opsconsole import thresholds

OK = "HEALTHY"
CRITICAL_LOAD = "CRITICAL_LOAD"
NO_DATA = "NO_DATA"


def summarize(host: Host) -> dict:
    limits = thresholds.current()
    latest = get_latest(host)
    values: dict[str, float] = latest.get("values", {})
    disks: list[dict[str, Any]] = []
    cores = []
    for key, value in values.items():
        name, labels = parse_key(key)
        if name == "disk_usage_percent":
            mount = labels.get("mount", "?")
            disks.append(
                {
                    "mount": mount,
                    "percent": value,
                    "used_bytes": values.get(f'disk_used_bytes{{mount="{mount}"}}'),
                    "free_bytes": values.get(f'disk_free_bytes{{mount="{mount}"}}'),
                }
            )
        elif name == "cpu_core_usage_percent":
            cores.append((int(labels.get("core", 0)), value))
    disks.sort(key=lambda d: d["mount"])
    cores.sort()
    disk_percent = max((d["percent"] for d in disks), default=None)
    summary = {
        "hostname": host.hostname,
        "time": latest.get("time"),
        "stale": host.is_stale(settings.METRICS_COLLECTION_INTERVAL),
        "cpu_percent": values.get("cpu_usage_percent"),
        "cpu_cores": [value for _, value in cores],
        "memory_percent": values.get("memory_usage_percent"),
        "memory_used_bytes": values.get("memory_used_bytes"),
        "memory_total_bytes": values.get("memory_total_bytes"),
        "swap_percent": values.get("swap_usage_percent"),
        "disk_percent": disk_percent,
        "disks": disks,
        "load": [values.get("load_1m"), values.get("load_5m"), values.get("load_15m")],
        "cpu_count": host.cpu_count,
        "network_sent_bytes_per_second": values.get("network_sent_bytes_per_second"),
        "network_received_bytes_per_second": values.get("network_received_bytes_per_second"),
        "disk_read_bytes_per_second": values.get("disk_read_bytes_per_second"),
        "disk_write_bytes_per_second": values.get("disk_write_bytes_per_second"),
        "process_count": values.get("process_count"),
        "zombie_process_count": values.get("zombie_process_count"),
        "database_connect_ms": values.get("database_connect_ms"),
        "database_size_bytes": values.get("database_size_bytes"),
        "collector_duration_ms": values.get("collector_duration_ms"),
        "processes": latest.get("processes", []),
        "thresholds": {name: limits[name] for name in ("cpu", "memory", "disk")},
    }
    summary["status"] = status_of(summary)
    return summary


def status_of(summary: dict) -> str:
    if summary["cpu_percent"] is None:
        return NO_DATA
    limits = thresholds.current()
    over = (
        (summary["cpu_percent"] or 0) > limits["cpu"]
        or (summary["memory_percent"] or 0) > limits["memory"]
        or (summary["disk_percent"] or 0) > limits["disk"]
    )
    return CRITICAL_LOAD if over else OK


def local_host() -> Host | None:
    return Host.objects.filter(hostname=settings.LOCAL_HOSTNAME).first()
