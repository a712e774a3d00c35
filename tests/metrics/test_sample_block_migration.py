"""Upgrading a console with raw samples in the narrow table: migration 0005 creates the
block table empty and moves nothing; the compaction job then folds the old rows, and
charts and the series API show the same points as before the upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from metrics import rollups, samples

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = NOW - timedelta(days=3)


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def _old_points():
    """Three days of a series every 15 s, sub-second times, one decimal."""
    return [
        (START + timedelta(seconds=15 * i, microseconds=500_000 * (i % 2)), (i % 997) / 10)
        for i in range(3 * 86400 // 15)
    ]


def test_an_upgraded_console_keeps_its_history(carol, client):
    old = _migrate(("metrics", "0004_process_sample_name_index"))
    Host, Metric = old.get_model("metrics", "Host"), old.get_model("metrics", "Metric")
    Sample = old.get_model("metrics", "MetricSample")
    host = Host.objects.create(hostname="web-01")
    metric = Metric.objects.create(
        key="cpu_usage_percent", name="cpu_usage_percent", unit="percent"
    )
    points = _old_points()
    Sample.objects.bulk_create(
        [Sample(host=host, metric=metric, time=at, value=value) for at, value in points],
        batch_size=2000,
    )
    assert "metrics_sampleblock" not in connection.introspection.table_names()

    # Upgraded to today's schema (0005 made the blocks): later tests run on it too.
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("metrics")[0])
    from metrics.models import MetricSample, SampleBlock

    assert SampleBlock.objects.count() == 0
    assert MetricSample.objects.count() == len(points)
    client.force_login(carol)
    # A 3-hour chart reads raw samples: here all of them from blocks after compaction.
    ranges = [(START + timedelta(hours=5), START + timedelta(hours=8))]
    query = {"host": "web-01", "metric": "cpu_usage_percent", "step": 300}

    def api(start, end):
        answer = client.get(
            "/api/v1/metrics/system", {**query, "start": start.isoformat(), "end": end.isoformat()}
        )
        assert answer.status_code == 200, answer.content
        return answer.json()

    before_api = api(*ranges[0])
    before_raw = samples.series(host.pk, metric.pk, START, NOW)
    before_chart = rollups.series(host.pk, metric.pk, *ranges[0], max_points=240)

    result = samples.compact(NOW)
    # Everything but the last two hours (METRICS_NARROW_HOURS), which stay narrow.
    assert result["samples"] == len(points) - 2 * 240
    assert MetricSample.objects.count() == 2 * 240
    assert SampleBlock.objects.count() == 3 * 24 - 2
    after_raw = samples.series(host.pk, metric.pk, START, NOW)
    compacted = len(points) - 2 * 240
    assert after_raw[:compacted] == [
        (at.replace(microsecond=0), value) for at, value in before_raw[:compacted]
    ]
    assert after_raw[compacted:] == before_raw[compacted:]
    assert [value for _, value in after_raw] == [value for _, value in points]
    assert rollups.series(host.pk, metric.pk, *ranges[0], max_points=240) == before_chart
    after_api = api(*ranges[0])
    assert after_api["source"] == "raw" and after_api["points"] == before_api["points"]
