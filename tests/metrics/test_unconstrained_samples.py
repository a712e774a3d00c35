"""The narrow sample tables without foreign keys on PostgreSQL (migration 0006): ingest
guards hosts and metric ids itself, and a row whose host or metric is gone never
reaches the roll-ups or the blocks, which keep their keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from metrics import ingest, rollups, samples
from metrics.ingest import DUPLICATE_COUNTER
from metrics.models import Host, Metric, MetricSample, MinuteRollup, ProcessSample, SampleBlock
from opsconsole.counters import counter

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="SQLite keeps the constraints in its tables (migration 0006 changes none there)",
)


def _batch(host: str, step: int, n: int = 5) -> dict:
    at = (NOW - timedelta(minutes=30) + timedelta(seconds=15 * step)).isoformat()
    return {
        "host": host,
        "samples": [{"metric": f"m_{i}", "value": float(i), "time": at} for i in range(n)],
        "processes": [
            {
                "pid": 7,
                "name": "postgres",
                "cpu_percent": 1.0,
                "memory_percent": 2.0,
                "rss_bytes": 9,
            }
        ],
        "process_time": at,
    }


def _orphans() -> int:
    return (
        MetricSample.objects.exclude(host_id__in=Host.objects.values("id")).count()
        + MetricSample.objects.exclude(metric_id__in=Metric.objects.values("id")).count()
        + ProcessSample.objects.exclude(host_id__in=Host.objects.values("id")).count()
    )


def _foreign_keys(table: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return sorted(info["columns"] for info in found.values() if info["foreign_key"])


@pytest.fixture
def agent(alice, token_for, api_client):
    return api_client(token_for(alice, "ingest"))


@pytest.mark.django_db(transaction=True)
def test_a_request_naming_a_host_deleted_meanwhile_writes_nothing_and_is_stored_anew(agent):
    first = agent.post("/metrics", {"batches": [_batch("db-01", 0), _batch("web-01", 0)]})
    assert first.status_code == 201, first.content
    gone = Host.objects.get(hostname="db-01").pk
    # Another process deletes the host (and its rows): no signal reaches this one,
    # whose copy of db-01 still holds the old id.
    with connection.cursor() as cursor:
        for model in (MetricSample, ProcessSample):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE host_id = %s", [gone])
        cursor.execute(f"DELETE FROM {Host._meta.db_table} WHERE id = %s", [gone])
    assert ingest._hosts.fresh()["db-01"].pk == gone
    duplicates = counter(DUPLICATE_COUNTER)
    second = agent.post("/metrics", {"batches": [_batch("db-01", 1), _batch("web-01", 1)]})
    assert second.status_code == 201, second.content
    assert _orphans() == 0
    db = Host.objects.get(hostname="db-01")
    assert db.pk != gone
    assert MetricSample.objects.filter(host=db).count() == 5
    assert ProcessSample.objects.filter(host=db).count() == 1
    assert MetricSample.objects.filter(host__hostname="web-01").count() == 10
    # The first attempt wrote nothing, so the second found no sample stored twice.
    assert counter(DUPLICATE_COUNTER) == duplicates


@pytest.mark.django_db(transaction=True)
def test_a_metric_deleted_anywhere_is_read_again_by_every_process(agent, settings):
    assert agent.post("/metrics", _batch("db-01", 0)).status_code == 201
    old = Metric.objects.get(key="m_0").pk
    # Deleted by another process: its rows, then the catalog row, and the generation
    # moved on in the shared cache (what its post_delete receiver does there).
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MetricSample._meta.db_table} WHERE metric_id = %s", [old])
        cursor.execute(f"DELETE FROM {Metric._meta.db_table} WHERE id = %s", [old])
    cache.incr(ingest.METRICS.key)
    settings.CONFIG_CACHE_SECONDS = 0  # this process looks at the generation now
    assert agent.post("/metrics", _batch("db-01", 1)).status_code == 201
    assert _orphans() == 0
    assert Metric.objects.get(key="m_0").pk != old
    assert MetricSample.objects.filter(metric__key="m_0").count() == 1


@pytest.mark.django_db(transaction=True)
def test_deleting_a_metric_moves_the_catalog_s_generation(agent):
    assert agent.post("/metrics", _batch("db-01", 0)).status_code == 201
    before = ingest.METRICS.current()
    metric = Metric.objects.get(key="m_0")
    MetricSample.objects.filter(metric=metric).delete()
    metric.delete()
    assert ingest.METRICS.current() != before
    assert "m_0" not in ingest._metric_ids.fresh()


@postgres_only
@pytest.mark.django_db
def test_postgresql_sample_tables_have_no_foreign_keys_and_the_blocks_keep_theirs():
    assert _foreign_keys(MetricSample._meta.db_table) == []
    assert _foreign_keys(ProcessSample._meta.db_table) == []
    assert _foreign_keys(SampleBlock._meta.db_table) == [["host_id"], ["metric_id"]]
    assert _foreign_keys(MinuteRollup._meta.db_table) == [["host_id"], ["metric_id"]]


def _write_orphans(host_id: int, metric_id: int, hour: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MetricSample._meta.db_table} (time, value, host_id, metric_id) "
            "SELECT %s + n * interval '15 seconds', n, %s, %s FROM generate_series(0, 9) n",
            [hour, host_id, metric_id],
        )


@postgres_only
@pytest.mark.django_db
def test_roll_ups_and_compaction_leave_out_rows_whose_host_or_metric_is_gone():
    hour = NOW - timedelta(hours=6)
    host = Host.objects.create(hostname="web-01")
    metric = Metric.objects.create(key="cpu_usage_percent", name="cpu_usage_percent")
    _write_orphans(host.pk, metric.pk, hour)  # a live series beside them
    _write_orphans(host.pk + 1000, metric.pk, hour)  # a deleted host's
    _write_orphans(host.pk, metric.pk + 1000, hour)  # a deleted metric's
    rollups.rollup_minutes(hour, hour + timedelta(hours=1))
    assert set(MinuteRollup.objects.values_list("host_id", "metric_id")) == {(host.pk, metric.pk)}
    assert sum(MinuteRollup.objects.values_list("count", flat=True)) == 10
    assert samples.compact(NOW)["samples"] == 10
    assert list(SampleBlock.objects.values_list("host_id", "metric_id")) == [(host.pk, metric.pk)]
    # The orphans left the narrow table with the live rows of their hour.
    assert MetricSample.objects.filter(time__lt=hour + timedelta(hours=1)).count() == 0


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_drops_the_keys_and_restores_them_without_the_orphans():
    host = Host.objects.create(hostname="web-01")
    metric = Metric.objects.create(key="cpu_usage_percent", name="cpu_usage_percent")
    hour = NOW - timedelta(hours=1)
    _write_orphans(host.pk, metric.pk, hour)
    _write_orphans(host.pk + 1000, metric.pk, hour + timedelta(minutes=5))
    try:
        _migrate(("metrics", "0005_sample_blocks"))
        assert _foreign_keys(MetricSample._meta.db_table) == [["host_id"], ["metric_id"]]
        assert _foreign_keys(ProcessSample._meta.db_table) == [["host_id"]]
        # The rows of a live host stay; those no key could hold were removed.
        assert MetricSample.objects.count() == 10
        assert set(MetricSample.objects.values_list("host_id", flat=True)) == {host.pk}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("metrics")[0])
    assert _foreign_keys(MetricSample._meta.db_table) == []
    assert MetricSample.objects.count() == 10
