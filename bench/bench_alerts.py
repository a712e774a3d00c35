"""The alert engine under load, on PostgreSQL.

1. One evaluation pass over 1,000 rules (20 metrics x 50 thresholds) and 500 hosts with
   an hour of samples every 15 s (2.4 million rows), against one hand-written aggregate
   query over the same 5-minute window measured in the same run. Targets: at most 2x the
   query, and under 5 % of the 15 s evaluation interval.
2. An alert storm: 10,000 firings across 100 fingerprints from 4 processes at once make
   exactly 100 alerts whose counts add up to 10,000, with no lock errors. Its time is
   shown against the 10 s the storm must fit in.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, median, pg_available, pg_drop, pg_recreate, run_worker

HOSTS, METRICS, RULES_PER_METRIC, STEP, HOUR = 500, 20, 50, 15, 3600
WINDOW = 300
FIRINGS, FINGERPRINTS, PROCESSES = 10_000, 100, 4


def run():
    from run import Result

    if not pg_available():
        return [Result("evaluation pass", "-", "-", 0.0, "<= 2.0", None, "PostgreSQL unreachable")]
    env = child_env(BENCH_DATABASE_URL=pg_recreate())
    try:
        figures = run_worker("bench_alerts.py", ["evaluate"], env, timeout=1800)
        storm = run_worker("bench_alerts.py", ["storm"], env, timeout=600)
    finally:
        pg_drop()
    ours, raw = figures["pass"], figures["query"]
    share = ours / 15 * 100
    return [
        Result(
            "one evaluation pass, 1,000 rules x 500 hosts",
            f"{ours * 1000:.0f} ms ({share:.1f} % of 15 s)",
            f"one aggregate query {raw * 1000:.0f} ms",
            ours / raw,
            "<= 2.0 and < 5 % of the interval",
            ours / raw <= 2.0 and share < 5,
            f"{figures['targets']:,} targets, {figures['rows']:,} samples in the window",
        ),
        Result(
            f"alert storm, {FIRINGS:,} firings / {FINGERPRINTS} fingerprints / {PROCESSES} processes",
            f"{storm['seconds']:.1f} s, {storm['alerts']} alerts, counts sum {storm['total']:,}, "
            f"{storm['errors']} errors",
            "10 s budget",
            storm["seconds"] / 10,
            "<= 1.0, exactly 100 alerts, exact counts",
            storm["seconds"] <= 10
            and storm["alerts"] == FINGERPRINTS
            and storm["total"] == FIRINGS
            and storm["errors"] == 0,
        ),
    ]


def _evaluate() -> dict:
    import os
    from datetime import UTC, datetime, timedelta

    from _common import django_setup

    django_setup(database_url=os.environ["BENCH_DATABASE_URL"])
    from django.db import connection

    from alerts.evaluator import evaluate
    from alerts.models import AlertRule
    from metrics.ingest import metric_ids, resolve_host

    hosts = [resolve_host(f"host-{h:03d}").pk for h in range(HOSTS)]
    names = [f"bench_metric_{m:02d}" for m in range(METRICS)]
    ids = metric_ids(set(names))
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=HOUR)
    with (
        connection.cursor() as cur,
        cur.copy("COPY metrics_metricsample (time, value, host_id, metric_id) FROM STDIN") as copy,
    ):
        for step in range(0, HOUR, STEP):
            at = start + timedelta(seconds=step + STEP)
            for n, host in enumerate(hosts):
                for m, name in enumerate(names):
                    copy.write_row((at, float((n + m + step) % 70), host, ids[name]))
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE metrics_metricsample")
    AlertRule.objects.bulk_create(
        AlertRule(
            name=f"{name} over {80 + r}",
            metric=name,
            threshold=80 + r,
            window_seconds=WINDOW,
            aggregation="avg",
        )
        for name in names
        for r in range(RULES_PER_METRIC)
    )
    sql = (
        "SELECT host_id, metric_id, COUNT(*), AVG(value), MIN(value), MAX(value) "
        "FROM metrics_metricsample WHERE time >= %s AND time <= %s GROUP BY host_id, metric_id"
    )

    def query():
        with connection.cursor() as cur:
            cur.execute(sql, [now - timedelta(seconds=WINDOW), now])
            return cur.fetchall()

    query()
    result = evaluate(now)  # warm
    passes, queries = [], []
    for _ in range(5):
        started = time.perf_counter()
        rows = query()
        queries.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = evaluate(now)
        passes.append(time.perf_counter() - started)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM metrics_metricsample WHERE time >= %s",
            [now - timedelta(seconds=WINDOW)],
        )
        in_window = cur.fetchone()[0]
    assert len(rows) == HOSTS * METRICS
    return {
        "pass": median(passes),
        "query": median(queries),
        "targets": result.targets,
        "rows": in_window,
    }


def _storm() -> dict:
    import multiprocessing
    import os

    from _common import django_setup

    django_setup(database_url=os.environ["BENCH_DATABASE_URL"], migrate=False)
    from django.db import connections

    from alerts.models import Alert

    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    per_process = FIRINGS // PROCESSES
    start_gate = context.Event()

    def fire(worker: int):
        from alerts.service import AlertService

        service = AlertService()
        errors = 0
        start_gate.wait()
        for n in range(per_process):
            try:
                service.create_system_alert(
                    "cpu_percent", 95, 80, f"storm-{(n + worker) % FINGERPRINTS:03d}"
                )
            except Exception:
                errors += 1
        results.put(errors)
        connections.close_all()

    workers = [context.Process(target=fire, args=(w,)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    time.sleep(1)
    started = time.perf_counter()
    start_gate.set()
    errors = sum(results.get(timeout=300) for _ in workers)
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join(30)
    storm = Alert.objects.filter(resource__startswith="storm-")
    return {
        "seconds": seconds,
        "alerts": storm.count(),
        "total": sum(storm.values_list("notification_count", flat=True)),
        "errors": errors,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    import json

    print(json.dumps(_evaluate() if sys.argv[2] == "evaluate" else _storm()))
