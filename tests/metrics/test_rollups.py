from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from metrics import rollups
from metrics.models import Host, HourRollup, Metric, MetricSample, MinuteRollup, ProcessSample
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _minutes_of_samples(minutes: int, per_minute: int = 4):
    step = 60 // per_minute
    return [(T0 + timedelta(seconds=i * step), float(i % 10)) for i in range(minutes * per_minute)]


def test_it_rolls_samples_into_minutes_and_hours():
    store("web-01", {"cpu_usage_percent": _minutes_of_samples(90)})
    rollups.rollup_minutes(T0, T0 + timedelta(hours=2))
    rollups.rollup_hours(T0, T0 + timedelta(hours=2))
    first = MinuteRollup.objects.order_by("bucket").first()
    assert first is not None and first.bucket == T0
    # values 0,1,2,3 in the first minute
    assert (first.min, first.max, first.sum, first.count) == (0.0, 3.0, 6.0, 4)
    assert MinuteRollup.objects.count() == 90
    hours = list(HourRollup.objects.order_by("bucket"))
    assert [h.count for h in hours] == [240, 120]
    assert hours[0].min == 0.0 and hours[0].max == 9.0


def test_it_is_idempotent_and_folds_late_samples():
    store("web-01", {"cpu_usage_percent": [(T0, 10.0)]})
    rollups.rollup_minutes(T0, T0 + timedelta(minutes=1))
    store("web-01", {"cpu_usage_percent": [(T0 + timedelta(seconds=30), 30.0)]})
    rollups.rollup_minutes(T0, T0 + timedelta(minutes=1))
    rollups.rollup_minutes(T0, T0 + timedelta(minutes=1))
    bucket = MinuteRollup.objects.get()
    assert (bucket.count, bucket.sum, bucket.max) == (2, 40.0, 30.0)


def test_it_reads_charts_from_the_right_source():
    store("web-01", {"cpu_usage_percent": _minutes_of_samples(120)})
    rollups.rollup_minutes(T0, T0 + timedelta(hours=3))
    metric = Metric.objects.get(key="cpu_usage_percent")
    host_id = Host.objects.get(hostname="web-01").pk
    source, step, points = rollups.series(
        host_id, metric.pk, T0, T0 + timedelta(hours=1), step_seconds=30
    )
    assert source == "raw" and step == 30
    assert points[0].value == pytest.approx(0.5)  # avg of 0 and 1 in the first 30 s
    source, step, points = rollups.series(
        host_id, metric.pk, T0, T0 + timedelta(hours=6), aggregation="max"
    )
    assert source == "1m" and step == 60
    assert len(points) == 120 and points[0].value == 3.0
    with pytest.raises(ValueError, match="aggregation must be one of"):
        rollups.series(host_id, metric.pk, T0, T0 + timedelta(hours=1), aggregation="median")


def test_it_deletes_old_samples_in_batches_and_keeps_recent(settings, monkeypatch):
    monkeypatch.setattr(rollups, "DELETE_BATCH", 7)
    settings.METRICS_RETENTION_DAYS = 30
    settings.PROCESS_RETENTION_DAYS = 7
    now = T0
    old = [(now - timedelta(days=31, seconds=i), 1.0) for i in range(20)]
    recent = [(now - timedelta(days=29, seconds=i), 2.0) for i in range(5)]
    process = {
        "pid": 1,
        "name": "old",
        "username": "",
        "status": "sleeping",
        "cpu_percent": 0.0,
        "memory_percent": 0.1,
        "rss_bytes": 1,
        "num_threads": 1,
        "read_bytes_per_second": None,
        "write_bytes_per_second": None,
        "cmdline": "",
    }
    store("web-01", {"load_1m": old + recent})
    ProcessSample.objects.create(
        time=now - timedelta(days=8), host_id=Host.objects.get(hostname="web-01").pk, **process
    )
    result = rollups.run_retention(now)
    assert result["samples"] == 20 and result["processes"] == 1
    assert MetricSample.objects.count() == 5
    assert set(MetricSample.objects.values_list("value", flat=True)) == {2.0}


# -- the scheduled job: a watermark, each minute folded once after the grace period ------
def _minute(bucket: datetime) -> tuple:
    row = MinuteRollup.objects.get(bucket=bucket)
    return (row.count, row.sum, row.min, row.max)


def test_each_minute_is_folded_once_after_the_grace_period(settings):
    settings.ROLLUP_GRACE_SECONDS = 120
    rollups.cache.delete(rollups.MINUTE_WATERMARK)
    rollups.cache.delete(rollups.HOUR_WATERMARK)
    store("web-01", {"cpu_usage_percent": _minutes_of_samples(3)})  # 10:00-10:03
    # At 10:04:30 the minutes closed for 2 minutes or more are 10:00 and 10:01.
    first = rollups.run_rollups(T0 + timedelta(minutes=4, seconds=30))
    assert first["to"] == T0 + timedelta(minutes=2)
    assert set(MinuteRollup.objects.values_list("bucket", flat=True)) == {
        T0,
        T0 + timedelta(minutes=1),
    }
    # The next run starts at the watermark: only 10:02 is read and written.
    second = rollups.run_rollups(T0 + timedelta(minutes=5))
    assert second["from"] == T0 + timedelta(minutes=2) and second["minute_rows"] == 1
    assert MinuteRollup.objects.count() == 3
    # A run in the same minute again has nothing to fold.
    assert rollups.run_rollups(T0 + timedelta(minutes=5, seconds=20))["minute_rows"] == 0


def test_late_samples_within_the_grace_period_are_folded(settings):
    settings.ROLLUP_GRACE_SECONDS = 120
    rollups.cache.set(rollups.MINUTE_WATERMARK, T0.isoformat(), None)
    store("web-01", {"cpu_usage_percent": [(T0 + timedelta(seconds=5), 10.0)]})
    # 10:01:30: minute 10:00 closed, but its grace period runs until 10:03.
    assert rollups.run_rollups(T0 + timedelta(minutes=1, seconds=30))["minute_rows"] == 0
    # A buffered batch for 10:00 arrives at 10:02, within the grace period.
    store("web-01", {"cpu_usage_percent": [(T0 + timedelta(seconds=50), 30.0)]})
    rollups.run_rollups(T0 + timedelta(minutes=3))
    assert _minute(T0) == (2, 40.0, 10.0, 30.0)
    # One arriving after the minute was folded stays raw: the minute is not read again.
    store("web-01", {"cpu_usage_percent": [(T0 + timedelta(seconds=55), 99.0)]})
    assert rollups.run_rollups(T0 + timedelta(minutes=4))["from"] == T0 + timedelta(minutes=1)
    assert _minute(T0) == (2, 40.0, 10.0, 30.0)


def test_a_run_repeated_or_dead_halfway_writes_the_same_rows(settings):
    settings.ROLLUP_GRACE_SECONDS = 0
    rollups.cache.set(rollups.MINUTE_WATERMARK, T0.isoformat(), None)
    rollups.cache.set(rollups.HOUR_WATERMARK, T0.isoformat(), None)
    store("web-01", {"cpu_usage_percent": _minutes_of_samples(70)})  # 10:00-11:10
    now = T0 + timedelta(minutes=75)
    rollups.run_rollups(now)
    minutes = list(MinuteRollup.objects.order_by("bucket").values_list("bucket", "sum", "count"))
    hours = list(HourRollup.objects.values_list("bucket", "min", "max", "sum", "count"))
    assert len(minutes) == 70
    # The open hour (11:00) is not folded yet; 10:00 is, from its 60 minute buckets.
    assert hours == [(T0, 0.0, 9.0, sum(float(i % 10) for i in range(240)), 240)]
    # Died before moving its watermarks: the same minutes and hour are folded again.
    rollups.cache.set(rollups.MINUTE_WATERMARK, T0.isoformat(), None)
    rollups.cache.set(rollups.HOUR_WATERMARK, T0.isoformat(), None)
    rollups.run_rollups(now)
    rollups.run_rollups(now)
    assert list(MinuteRollup.objects.order_by("bucket").values_list("bucket", "sum", "count")) == (
        minutes
    )
    assert list(HourRollup.objects.values_list("bucket", "min", "max", "sum", "count")) == hours


def test_a_long_chart_reads_the_open_hour_from_its_minutes(settings):
    settings.ROLLUP_GRACE_SECONDS = 0
    rollups.cache.set(rollups.MINUTE_WATERMARK, T0.isoformat(), None)
    rollups.cache.set(rollups.HOUR_WATERMARK, T0.isoformat(), None)
    store("web-01", {"cpu_usage_percent": _minutes_of_samples(70)})
    rollups.run_rollups(T0 + timedelta(minutes=70))
    metric = Metric.objects.get(key="cpu_usage_percent")
    host_id = Host.objects.get(hostname="web-01").pk
    end = T0 + timedelta(minutes=70)
    source, _step, points = rollups.series(
        host_id, metric.pk, end - timedelta(days=30), end, aggregation="count"
    )
    assert source == "1h"
    # 10:00 from its hour bucket, 11:00-11:10 from the minute buckets: every sample.
    assert sum(point.value for point in points) == 70 * 4
