"""Bytes per stored raw sample on PostgreSQL, tables plus indexes, vacuumed.

1. The narrow table (``metrics_metricsample``, where samples arrive) against a naive
   layout of the same rows measured in the same run (id bigserial, time, host and
   metric names, value, with three B-tree indexes: time, (host, time), (metric, time),
   filled in time order like a live table). Target: at most 100 B.
2. The steady state: the same samples once the compaction job has folded their closed
   hours into blocks (``metrics_sampleblock``, all its day partitions), against the
   narrow table of the same run. Target: at most 8 B a sample, which keeps 1,000 agents
   x 50 metrics every 15 s for 30 days under 70 GB. The note gives the same blocks with
   8-byte values (``float8[]``), the layout the 4-byte one was chosen over.

960,000 samples (20 hosts x 50 metrics x 960 times 15 s apart: four whole hours) go in
through the ingest path in requests of 5,000.
"""

from __future__ import annotations

import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, pg_available, pg_drop, pg_recreate, run_worker

DATABASE = "opsconsole_bench_storage"
HOSTS, METRICS, STEPS = 20, 50, 960


def run():
    from run import Result

    if not pg_available():
        return [
            Result("storage per sample", "-", "-", 0.0, "<= 100 B", None, "PostgreSQL unreachable")
        ]
    # A database of its own: benchmarks run side by side do not drop each other's.
    env = child_env(BENCH_DATABASE_URL=pg_recreate(DATABASE))
    try:
        figures = run_worker("bench_storage.py", [], env)
    finally:
        pg_drop(DATABASE)
    ours, naive = figures["ours"], figures["naive"]
    blocks = figures["blocks"]
    return [
        Result(
            "storage per raw sample on PostgreSQL (960,000 samples, table + indexes)",
            f"{ours:.1f} B/sample",
            f"naive layout {naive:.1f} B/sample",
            ours / naive,
            "<= 100 B (ratio shown vs naive)",
            ours <= 100,
            f"table {figures['table_bytes'] / 2**20:.1f} MiB, indexes {figures['index_bytes'] / 2**20:.1f} MiB",
        ),
        Result(
            "steady state: per sample compacted into hourly blocks (real[] + smallint[])",
            f"{blocks:.2f} B/sample",
            f"narrow table {ours:.1f} B/sample",
            blocks / ours,
            "<= 8 B (ratio shown vs narrow)",
            blocks <= 8,
            f"{figures['block_rows']:,} blocks, {figures['block_bytes'] / 2**20:.1f} MiB; "
            f"with float8[] values {figures['blocks_float8']:.2f} B/sample; "
            f"30 days of 1,000 x 50 every 15 s: {blocks * 1000 * 50 * 5760 * 30 / 1e9:.0f} GB; "
            f"compacting took {figures['compact_seconds']:.1f} s (provisional, loaded box)",
        ),
    ]


def _value(host: int, metric: int, step: int) -> float:
    """What agents send, repeatable: a third of the series are percentages with one
    decimal that wander, a third rates (bytes over 15 s: any float), a third counts."""
    noise = random.Random(host * 1_000_003 + metric * 10_007 + step).random()
    kind = metric % 3
    if kind == 0:
        return round(50 + 40 * math.sin((step + 37 * metric + 11 * host) / 40) + 5 * noise, 1)
    if kind == 1:
        return (1_000_000 + 200_000 * math.sin(step / 25 + host) + 50_000 * noise) // 1 / 15
    return float(int(100 + 20 * noise + metric))


def _worker() -> dict:
    import os

    from _common import django_setup

    django_setup(database_url=os.environ["BENCH_DATABASE_URL"])
    from django.db import connection

    from metrics.ingest import Batch, ingest_many

    # Whole hours that ended long enough ago to be compacted, inside the retention.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=2)
    names = [f"bench_metric_{m:02d}" for m in range(METRICS)]
    request = []
    for step in range(STEPS):
        at = start + timedelta(seconds=15 * step)
        for host in range(HOSTS):
            samples = [(name, _value(host, m, step), at) for m, name in enumerate(names)]
            request.append(Batch(hostname=f"host-{host:02d}", samples=samples))
            if len(request) == 100:
                ingest_many(request)
                request = []
    if request:
        ingest_many(request)
    with connection.cursor() as cur:
        cur.execute(
            """
            CREATE TABLE naive_sample (
                id bigserial PRIMARY KEY, time timestamptz NOT NULL,
                host varchar(255) NOT NULL, metric varchar(255) NOT NULL,
                value double precision NOT NULL)
            """
        )
        # Indexes first, as on a live table that grows sample by sample.
        cur.execute("CREATE INDEX ON naive_sample (time)")
        cur.execute("CREATE INDEX ON naive_sample (host, time)")
        cur.execute("CREATE INDEX ON naive_sample (metric, time)")
        cur.execute(
            """
            INSERT INTO naive_sample (time, host, metric, value)
            SELECT s.time, h.hostname, m.key, s.value
            FROM metrics_metricsample s
            JOIN metrics_host h ON h.id = s.host_id JOIN metrics_metric m ON m.id = s.metric_id
            ORDER BY s.time
            """
        )
    connection.connection.autocommit = True
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE metrics_metricsample")
        cur.execute("VACUUM ANALYZE naive_sample")
        sizes = {}
        for table in ("metrics_metricsample", "naive_sample"):
            cur.execute(
                "SELECT pg_total_relation_size(%s), pg_relation_size(%s), count(*) FROM " + table,
                [table, table],
            )
            sizes[table] = cur.fetchone()
    total, heap, rows = sizes["metrics_metricsample"]
    naive_total, _, naive_rows = sizes["naive_sample"]
    assert rows == naive_rows == HOSTS * METRICS * STEPS
    figures = {
        "ours": total / rows,
        "naive": naive_total / naive_rows,
        "table_bytes": heap,
        "index_bytes": total - heap,
    }
    figures.update(_blocks(now + timedelta(days=1)))
    return figures


def _partitioned_size(cur, table: str) -> int:
    cur.execute(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
        "WHERE inhparent = %s::regclass",
        [table],
    )
    return int(cur.fetchone()[0])


def _blocks(now: datetime) -> dict:
    """Compact every sample (as the job would, a day later), vacuum, and measure."""
    from django.db import connection

    from metrics import samples

    started = time.perf_counter()
    moved = samples.compact(now)["samples"]
    seconds = time.perf_counter() - started
    assert moved == HOSTS * METRICS * STEPS, f"compacted {moved} samples"
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE float8_block (LIKE metrics_sampleblock INCLUDING ALL) "
            "PARTITION BY RANGE (hour)"
        )
        cur.execute(
            "CREATE TABLE float8_block_all PARTITION OF float8_block "
            "FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"
        )
        cur.execute("ALTER TABLE float8_block ALTER COLUMN readings TYPE float8[]")
        cur.execute(
            "INSERT INTO float8_block SELECT * FROM metrics_sampleblock "
            "ORDER BY hour, host_id, metric_id"
        )
        cur.execute("VACUUM ANALYZE metrics_metricsample")
        cur.execute("VACUUM ANALYZE metrics_sampleblock")
        cur.execute("VACUUM ANALYZE float8_block")
        cur.execute("SELECT count(*), sum(cardinality(offsets)) FROM metrics_sampleblock")
        block_rows, stored = cur.fetchone()
        # Only the partitions that hold the run's samples: at steady state every day's
        # does; the empty ones made ahead cost a fixed 16 kB each.
        cur.execute(
            "SELECT coalesce(sum(pg_total_relation_size(tableoid)), 0) FROM "
            "(SELECT DISTINCT tableoid FROM metrics_sampleblock) AS used"
        )
        block_bytes = int(cur.fetchone()[0])
        float8_bytes = _partitioned_size(cur, "float8_block")
    assert stored == HOSTS * METRICS * STEPS
    return {
        "blocks": block_bytes / stored,
        "block_rows": block_rows,
        "block_bytes": block_bytes,
        "blocks_float8": float8_bytes / stored,
        "compact_seconds": seconds,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    import json

    print(json.dumps(_worker()))
