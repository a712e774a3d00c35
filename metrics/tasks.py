"""django-q2 tasks of the metrics app. Enqueued by the ticker (see opsconsole/ticker.py).

Each task passes no data through the queue: it reads what it needs when it runs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections

from metrics import samples
from metrics.collector import Collector, host_info
from metrics.ingest import IngestResult, collection_to_batch, ingest
from metrics.rollups import run_retention, run_rollups

logger = logging.getLogger(__name__)

STATE_KEY = "collector:state:{hostname}"


def database_vitals() -> dict[str, float]:
    """Connection time, a trivial query's time and the size of the console's database."""
    values: dict[str, float] = {}
    fresh = connections.create_connection("default")
    try:
        started = time.perf_counter()
        fresh.connect()
        values["database_connect_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        with fresh.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        values["database_query_ms"] = (time.perf_counter() - started) * 1000
        if fresh.vendor == "postgresql":
            with fresh.cursor() as cursor:
                cursor.execute("SELECT pg_database_size(current_database())")
                values["database_size_bytes"] = float(cursor.fetchone()[0])
    finally:
        fresh.close()
    if connection.vendor == "sqlite":
        path = Path(settings.DATABASES["default"]["NAME"])
        size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        values["database_size_bytes"] = float(size)
    return values


def collect_local(*, processes: bool = True) -> IngestResult:
    """Sample the host this worker runs on and ingest it (seed 002's "collect once")."""
    started = time.perf_counter()
    hostname = settings.LOCAL_HOSTNAME
    key = STATE_KEY.format(hostname=hostname)
    collector = Collector(hostname=hostname, top_n=settings.TOP_PROCESSES, state=cache.get(key))
    collection = collector.collect(processes=processes)
    cache.set(key, collector.state, 3600)
    try:
        collection.values.update(database_vitals())
    except Exception as exc:  # the database being slow or down is itself a vital sign
        logger.warning("database vitals unavailable: %s", exc)
    collection.host_info = host_info()
    result = ingest(collection_to_batch(collection, is_local=True))
    # Seed 002's line: "Metrics collection completed" with the counts and the duration
    # (sampling, database vitals and ingest) as fields of the JSON log entry, whose
    # ``hostname`` is this host's (the JSON formatter's).
    logger.info(
        "Metrics collection completed",
        extra={
            "system_metrics": result.samples,
            "process_metrics": result.processes,
            "duration_seconds": round(time.perf_counter() - started, 3),
            "collector_duration_ms": round(collection.values["collector_duration_ms"], 1),
        },
    )
    return result


def rollup() -> dict:
    return run_rollups()


def compact() -> dict:
    """Fold closed hours of narrow samples into blocks (and create partitions ahead)."""
    result = samples.compact()
    if result["samples"]:
        logger.info("compacted %s samples of %s hours", result["samples"], result["hours"])
    return result


def cleanup() -> dict:
    result = run_retention()
    result["sample_blocks"] = samples.drop_expired()
    logger.info("retention removed %s", result)
    return result
