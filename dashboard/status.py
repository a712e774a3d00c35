"""Seed 002's extended status: what ``GET /status`` shows anyone and ``GET
/api/v1/status`` shows a signed-in user, with each host's freshness."""

from __future__ import annotations

import platform
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from metrics.models import Host
from metrics.vitals import local_host, summarize


def public_status() -> dict[str, Any]:
    """Seed 002's "extended status with system info", safe for anyone to read: versions,
    modes, the collection interval, how many hosts report (not their names) and the
    console's own host's vitals. No address, credential or host name."""
    interval = settings.METRICS_COLLECTION_INTERVAL
    hosts = list(Host.objects.filter(enabled=True).only("last_seen"))
    own = local_host()
    vitals = summarize(own) if own is not None else {}
    return {
        "status": "ok",
        "time": timezone.now().isoformat(),
        "python": platform.python_version(),
        "database": connection.vendor,
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "task_broker": settings.Q_BROKER,
        "collection_interval_seconds": interval,
        "host_count": len(hosts),
        "stale_host_count": sum(1 for h in hosts if h.is_stale(interval)),
        "system": {
            key: vitals.get(key)
            for key in (
                "status",
                "time",
                "cpu_percent",
                "memory_percent",
                "disk_percent",
                "load",
                "cpu_count",
            )
        },
    }


def host_freshness() -> list[dict[str, Any]]:
    """Every host, by name: when it last reported and whether that is too long ago."""
    interval = settings.METRICS_COLLECTION_INTERVAL
    return [
        {
            "hostname": h.hostname,
            "last_seen": h.last_seen.isoformat() if h.last_seen else None,
            "stale": h.is_stale(interval),
        }
        for h in Host.objects.order_by("hostname")
    ]
