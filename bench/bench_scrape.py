"""The cost of one Prometheus scrape of GET /metrics.

200 hosts with 40 series each (8,000 host samples) and 1,000 alerts, in embedded mode
(SQLite, file cache). Figure: the median wall time of rendering /metrics (every section:
database counts, the cache reads, the formatting). Reference: prometheus_client
formatting the very same metric families already built in memory (the per-host series,
which the console writes as text itself, read back into families), measured in the
same run. Target: at most 4x, so the console's own work stays a small multiple of the
text it has to write.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, median, run_worker

HOSTS, SERIES, ALERTS, RUNS = 200, 40, 1000, 15


def _worker() -> dict:
    from _common import django_setup

    django_setup()
    from datetime import UTC, datetime

    from django.db import transaction
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.registry import Collector

    from alerts.service import AlertService
    from metrics.ingest import Batch, ingest
    from opsconsole import exposition

    now = datetime.now(UTC)
    keys = [f'disk_usage_percent{{mount="/m{i}"}}' for i in range(SERIES - 4)]
    keys += ["cpu_usage_percent", "memory_usage_percent", "load_1m", "process_count"]
    for host in range(HOSTS):
        with transaction.atomic():
            ingest(Batch(hostname=f"host-{host:03d}", samples=[(k, 42.0, now) for k in keys]))
    service = AlertService()
    for index in range(ALERTS):
        service.create_system_alert("cpu_usage_percent", 99, 50, f"host-{index:04d}")

    exposition.render()  # warm-up: imports, first queries
    ours = []
    for _ in range(RUNS):
        started = time.perf_counter()
        text = exposition.render()
        ours.append(time.perf_counter() - started)

    # The same series as families in memory: the sections' own, and those a section
    # wrote as text itself (the per-host series) read back from it.
    collector = exposition.ConsoleCollector()
    families = list(collector.collect())
    families += text_string_to_metric_families("".join(collector.rendered))

    class Prebuilt(Collector):
        def collect(self):
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Prebuilt())
    generate_latest(registry)
    bare = []
    for _ in range(RUNS):
        started = time.perf_counter()
        generate_latest(registry)
        bare.append(time.perf_counter() - started)
    samples = sum(len(family.samples) for family in families)
    return {"ours": median(ours), "bare": median(bare), "samples": samples, "bytes": len(text)}


def run():
    from run import Result

    figures = run_worker("bench_scrape.py", [], child_env(), timeout=900)
    ours, bare = figures["ours"], figures["bare"]
    return [
        Result(
            f"GET /metrics, {HOSTS} hosts x {SERIES} series, {ALERTS:,} alerts",
            f"{ours * 1000:.1f} ms for {figures['samples']:,} samples ({figures['bytes']:,} B)",
            f"formatting the same families {bare * 1000:.1f} ms",
            ours / bare,
            "<= 4.0",
            ours / bare <= 4.0,
        )
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    print(json.dumps(_worker()))
