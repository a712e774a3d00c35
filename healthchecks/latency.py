"""End-to-end latency (seed 000's latency monitor): how long events take from their
source to being committed, per source, with percentiles and a lag alert.

Services report samples over ``POST /api/v1/latency``; the console adds its own
ingest-to-commit time for every batch under the source ``console.ingest``. Those are
buffered in memory and written at most once a second, so measuring ingest does not add
a write to each batch.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts import pipeline
from alerts.constants import OPEN_STATUSES
from alerts.models import DEFAULT_LATENCY_MIN_SAMPLES, Alert
from alerts.service import AlertService
from healthchecks.models import LatencySample

INGEST_SOURCE = "console.ingest"
LAG_METRIC = "e2e_latency_ms"
LAG_WINDOW_SECONDS = 60
FLUSH_SECONDS = 1.0


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def summarize(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "avg_ms": round(sum(ordered) / len(ordered), 3),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p95_ms": round(percentile(ordered, 95), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
    }


class LatencyMonitor:
    def __init__(self):
        self._buffer: list[LatencySample] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def record(self, source: str, latency_ms: float, at: datetime | None = None) -> None:
        """Store one sample now."""
        LatencySample.objects.create(
            source=source, latency_ms=float(latency_ms), time=at or timezone.now()
        )

    def record_many(self, samples: list[tuple[str, float, datetime]]) -> int:
        LatencySample.objects.bulk_create(
            [LatencySample(source=s, latency_ms=v, time=t) for s, v, t in samples]
        )
        return len(samples)

    def buffer(self, source: str, latency_ms: float) -> None:
        """Keep a sample in memory, writing the buffer once a second at most."""
        with self._lock:
            self._buffer.append(
                LatencySample(source=source, latency_ms=latency_ms, time=timezone.now())
            )
            due = time.monotonic() - self._flushed >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            pending, self._buffer = self._buffer, []
            self._flushed = time.monotonic()
        if pending:
            LatencySample.objects.bulk_create(pending)
        return len(pending)

    def get_average_latency(self, source: str | None = None, window_seconds: int = 300) -> dict:
        """``{source: {count, avg_ms, p50_ms, p95_ms, p99_ms, max_ms}}`` over the window;
        with ``source``, that source's figures alone (``count`` 0 when it sent none)."""
        self.flush()
        since = timezone.now() - timedelta(seconds=window_seconds)
        rows = LatencySample.objects.filter(time__gte=since)
        if source is not None:
            rows = rows.filter(source=source)
        values: dict[str, list[float]] = {}
        for name, value in rows.values_list("source", "latency_ms").iterator():
            values.setdefault(name, []).append(value)
        figures = {name: summarize(vals) for name, vals in sorted(values.items())}
        if source is not None:
            return figures.get(source, {"count": 0})
        return figures

    def check_lag(self) -> dict[str, str]:
        """Alert per source whose p95 over the last minute is over the threshold;
        resolve those back under it. Returns {source: "fired" | "resolved"}."""
        threshold = settings.LATENCY_ALERT_THRESHOLD_MS
        service = AlertService()
        figures = self.get_average_latency(window_seconds=LAG_WINDOW_SECONDS)
        done = {}
        for source, fig in figures.items():
            # Never on one sample: a P95 of a handful is one slow event, not a lag.
            if fig["p95_ms"] > threshold and fig["count"] >= DEFAULT_LATENCY_MIN_SAMPLES:
                service.create_performance_alert(
                    LAG_METRIC,
                    fig["p95_ms"],
                    threshold,
                    resource=source,
                    percentile="P95",
                    metadata={"window_seconds": LAG_WINDOW_SECONDS, **fig},
                )
                done[source] = "fired"
        open_alerts = Alert.objects.filter(
            alert_type=f"performance_{LAG_METRIC}", status__in=OPEN_STATUSES
        )
        for alert in open_alerts:
            fig = figures.get(alert.resource)
            if (fig is None or fig["p95_ms"] <= threshold) and pipeline.clear_alert(
                alert.alert_type,
                alert.resource,
                alert.labels,
                actor="healthchecks",
                note=f"P95 lag back under {threshold:g} ms",
            ):
                done[alert.resource] = "resolved"
        return done


latency_monitor = LatencyMonitor()


def get_average_latency(source: str | None = None, window_seconds: int = 300) -> dict:
    return latency_monitor.get_average_latency(source, window_seconds)


def on_ingest(sender, latency_ms: float | None = None, **kwargs) -> None:
    """samples_ingested receiver: the console's own ingest-to-commit time per batch."""
    if latency_ms is not None:
        latency_monitor.buffer(INGEST_SOURCE, latency_ms)
