"""Growth, on PostgreSQL, day by day as the console runs.

Each simulated day writes a day of samples for 2 hosts x 20 series every 60 s (57,600
rows), then does what the workers do: minute and hour roll-ups of the day, compaction
of closed hours into blocks, retention with the default settings (raw 30 days, minute
roll-ups 8, hour roll-ups 730; blocks by day partition), and the routine VACUUM that
autovacuum would do.

1. The 24-hour chart query (``rollups.series`` over 24 h, as the System Monitor and
   ``GET /api/v1/metrics/system?range=24h`` read it) after 30 days, against the same
   query after 1 day. Median of 40 runs, warm. Target: at most 2x.
2. Database size once retention runs: after day 37 against after day 30 (pg_database_size).
   Target: within 10 %.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, median, pg_available, pg_drop, pg_recreate, run_worker

DATABASE = "opsconsole_bench_growth"
HOSTS, SERIES, STEP = 2, 20, 60
FIRST_DAYS, MORE_DAYS = 30, 7
REPEATS = 40


def run():
    from run import Result

    if not pg_available():
        return [Result("growth", "-", "-", 0.0, "<= 2.0", None, "PostgreSQL unreachable")]
    # A database of its own: benchmarks run side by side do not drop each other's.
    env = child_env(BENCH_DATABASE_URL=pg_recreate(DATABASE))
    try:
        figures = run_worker("bench_growth.py", [], env, timeout=1800)
    finally:
        pg_drop(DATABASE)
    query_ratio = figures["query_30d"] / figures["query_1d"]
    size_ratio = figures["size_37d"] / figures["size_30d"]
    return [
        Result(
            "24 h chart query after 30 days",
            f"{figures['query_30d'] * 1000:.2f} ms",
            f"after 1 day {figures['query_1d'] * 1000:.2f} ms",
            query_ratio,
            "<= 2.0",
            query_ratio <= 2.0,
            f"{figures['rows_30d']:,} narrow rows and {figures['blocks_30d']:,} blocks at day 30",
        ),
        Result(
            f"database size, day {FIRST_DAYS + MORE_DAYS} vs day {FIRST_DAYS}",
            f"{figures['size_37d'] / 2**20:.1f} MiB",
            f"{figures['size_30d'] / 2**20:.1f} MiB",
            size_ratio,
            "0.9 - 1.1",
            0.9 <= size_ratio <= 1.1,
        ),
    ]


def _worker() -> dict:
    import os

    from _common import django_setup

    django_setup(database_url=os.environ["BENCH_DATABASE_URL"])
    from django.db import connection

    from metrics import rollups, samples
    from metrics.ingest import metric_ids, resolve_host
    from metrics.models import MetricSample, SampleBlock

    hosts = [resolve_host(f"growth-{h}").pk for h in range(HOSTS)]
    ids = list(metric_ids({f"growth_series_{s:02d}" for s in range(SERIES)}).values())
    epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def simulate_day(day: int) -> datetime:
        start = epoch + timedelta(days=day)
        end = start + timedelta(days=1)
        with (
            connection.cursor() as cur,
            cur.copy(
                "COPY metrics_metricsample (time, value, host_id, metric_id) FROM STDIN"
            ) as copy,
        ):
            for step in range(0, 86400, STEP):
                at = start + timedelta(seconds=step)
                for host in hosts:
                    for n, metric in enumerate(ids):
                        copy.write_row((at, float((step // STEP + n) % 100), host, metric))
        for hour in range(24):
            chunk = start + timedelta(hours=hour)
            rollups.rollup_minutes(chunk, chunk + timedelta(hours=1))
        rollups.rollup_hours(start, end)
        # The compaction job folds the day's closed hours into blocks (the last two
        # hours stay narrow until the next day's run), retention drops expired days.
        samples.compact(end)
        rollups.run_retention(end)
        samples.drop_expired(end)
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        return end

    def chart_query(now: datetime) -> float:
        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            _, _, points = rollups.series(
                hosts[0], ids[0], now - timedelta(hours=24), now, max_points=240
            )
            timings.append(time.perf_counter() - started)
        assert len(points) > 200, f"the chart has {len(points)} points"
        return median(timings)

    def size() -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            return cur.fetchone()[0]

    figures = {}
    now = simulate_day(0)
    figures["query_1d"] = chart_query(now)
    for day in range(1, FIRST_DAYS):
        now = simulate_day(day)
    figures["query_30d"] = chart_query(now)
    figures["rows_30d"] = MetricSample.objects.count()
    figures["blocks_30d"] = SampleBlock.objects.count()
    figures["size_30d"] = size()
    for day in range(FIRST_DAYS, FIRST_DAYS + MORE_DAYS):
        now = simulate_day(day)
    figures["size_37d"] = size()
    return figures


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    import json

    print(json.dumps(_worker()))
