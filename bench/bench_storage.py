"""Bytes per raw sample on PostgreSQL, table plus indexes, against a naive layout of the
same rows measured in the same run (id bigserial, time, host and metric names, value,
with three B-tree indexes: time, (host, time), (metric, time), filled in time order
like a live table). Target: at most 100 B.

1,000,000 samples (20 hosts x 50 metrics x 1,000 times 15 s apart) go in through the
ingest path in requests of 5,000, then both tables are vacuumed and analysed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, pg_available, pg_drop, pg_recreate, run_worker

HOSTS, METRICS, STEPS = 20, 50, 1000


def run():
    from run import Result

    if not pg_available():
        return [
            Result("storage per sample", "-", "-", 0.0, "<= 100 B", None, "PostgreSQL unreachable")
        ]
    env = child_env(BENCH_DATABASE_URL=pg_recreate())
    try:
        figures = run_worker("bench_storage.py", [], env)
    finally:
        pg_drop()
    ours, naive = figures["ours"], figures["naive"]
    return [
        Result(
            "storage per raw sample on PostgreSQL (1,000,000 samples, table + indexes)",
            f"{ours:.1f} B/sample",
            f"naive layout {naive:.1f} B/sample",
            ours / naive,
            "<= 100 B (ratio shown vs naive)",
            ours <= 100,
            f"table {figures['table_bytes'] / 2**20:.1f} MiB, indexes {figures['index_bytes'] / 2**20:.1f} MiB",
        )
    ]


def _worker() -> dict:
    import os

    from _common import django_setup

    django_setup(database_url=os.environ["BENCH_DATABASE_URL"])
    from django.db import connection

    from metrics.ingest import Batch, ingest_many

    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = [f"bench_metric_{m:02d}" for m in range(METRICS)]
    request = []
    for step in range(STEPS):
        at = start + timedelta(seconds=15 * step)
        for host in range(HOSTS):
            samples = [(name, float((m * step) % 101) / 3, at) for m, name in enumerate(names)]
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
    return {
        "ours": total / rows,
        "naive": naive_total / naive_rows,
        "table_bytes": heap,
        "index_bytes": total - heap,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    import json

    print(json.dumps(_worker()))
