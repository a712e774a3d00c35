"""Closed hours of raw samples compacted into one block per series and hour: the same
points read back (values, times to the second, order), merges of late and resent
samples, runs that die halfway or run twice, partitions and retention, and readers that
see both tables. Runs on SQLite and, with DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from alerts import preview
from alerts.models import AlertRule
from metrics import rollups, samples
from metrics.models import Host, Metric, MetricSample, SampleBlock
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
# Four closed hours, well before the narrow window of the newest two.
T0 = NOW - timedelta(hours=6)
postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only"
)


def _points(hours: int = 4, step: int = 15, start: datetime = T0, offset: float = 0.0):
    """Samples every ``step`` s with a few decimals and sub-second times, as agents send."""
    return [
        (
            start + timedelta(seconds=i * step, microseconds=250_000 * (i % 4)),
            round(offset + (i * 7.3) % 100, 1),
        )
        for i in range(hours * 3600 // step)
    ]


def _ids(host: str, key: str) -> tuple[int, int]:
    return Host.objects.get(hostname=host).pk, Metric.objects.get(key=key).pk


def _series(pair: tuple[int, int]) -> samples.Points:
    """The series' samples of the whole span written, from whichever table holds them."""
    return samples.series(*pair, T0, NOW)


def _seconds(points):
    """Points as a block keeps them: times to the second."""
    return [(at.replace(microsecond=0), value) for at, value in points]


@pytest.fixture
def two_hosts():
    written = {}
    for host in ("web-01", "web-02"):
        for n, key in enumerate(("cpu_usage_percent", "load_1m")):
            points = _points(offset=n * 0.05)
            store(host, {key: points})
            written[_ids(host, key)] = points
    return written


def test_it_moves_closed_hours_into_blocks_and_reads_back_the_same_points(two_hosts):
    before = {pair: _series(pair) for pair in two_hosts}
    result = samples.compact(NOW)
    # Every hour ending at least METRICS_NARROW_HOURS (2) ago: the 4 hours written.
    assert result["samples"] == sum(len(points) for points in two_hosts.values())
    assert MetricSample.objects.count() == 0
    assert SampleBlock.objects.count() == 4 * 4
    for pair, points in two_hosts.items():
        after = _series(pair)
        assert after == _seconds(points) == _seconds(before[pair])
        times = [at for at, _ in after]
        assert times == sorted(times)
    block = SampleBlock.objects.order_by("host", "metric", "hour").first()
    assert (
        block is not None
        and block.hour == T0
        and block.offsets[:3] == [0, 15, 30]
        and len(block.offsets) == 240
    )


def test_the_newest_hours_stay_narrow_and_reads_span_both_tables(settings):
    settings.METRICS_NARROW_HOURS = 2
    points = _points(hours=6, start=T0)
    store("web-01", {"cpu_usage_percent": points})
    pair = _ids("web-01", "cpu_usage_percent")
    chart_before = rollups.series(*pair, NOW - timedelta(hours=3), NOW, step_seconds=60)
    samples.compact(NOW)
    # Hours T0..T0+3 compacted; the last two (newer than 2 h ago) stay one row each.
    assert MetricSample.objects.filter(time__lt=NOW - timedelta(hours=2)).count() == 0
    assert MetricSample.objects.count() == 2 * 240
    assert _series(pair) == _seconds(points)[: 4 * 240] + points[4 * 240 :]
    chart_after = rollups.series(*pair, NOW - timedelta(hours=3), NOW, step_seconds=60)
    assert chart_after == chart_before


def test_a_longer_rule_window_keeps_its_samples_narrow(settings):
    settings.METRICS_NARROW_HOURS = 1
    store("web-01", {"cpu_usage_percent": _points(hours=6)})
    AlertRule.objects.create(
        name="cpu over 4 h", metric="cpu_usage_percent", threshold=90, window_seconds=4 * 3600
    )
    samples.compact(NOW)
    # The window reaches back 4 h, plus the hour in progress: only T0's hour is folded.
    assert SampleBlock.objects.count() == 1
    assert not MetricSample.objects.filter(time__lt=T0 + timedelta(hours=1)).exists()
    assert MetricSample.objects.filter(time__gte=NOW - timedelta(hours=5)).count() == 5 * 240


def test_hours_the_roll_ups_have_not_folded_wait_for_them(settings):
    from django.core.cache import cache

    store("web-01", {"cpu_usage_percent": _points(hours=4)})
    cache.set(samples.ROLLUP_WATERMARK_KEY, (T0 + timedelta(minutes=90)).isoformat())
    samples.compact(NOW)
    assert SampleBlock.objects.count() == 1  # only the hour before the watermark's
    assert MetricSample.objects.filter(time__lt=T0 + timedelta(hours=1)).count() == 0


def test_late_and_resent_samples_merge_into_their_block_once():
    store("web-01", {"cpu_usage_percent": _points(hours=1)})
    pair = _ids("web-01", "cpu_usage_percent")
    samples.compact(NOW)
    # A late sample between two others, a resent one of an existing second (a new
    # value wins, as in the narrow table), and one 0.4 s after another second.
    late = [
        (T0 + timedelta(seconds=20), 55.5),
        (T0 + timedelta(seconds=15), 99.9),
        (T0 + timedelta(seconds=30, microseconds=400_000), 12.5),
    ]
    store("web-01", {"cpu_usage_percent": late})
    read_before = samples.series(*pair, T0, T0 + timedelta(minutes=1))
    assert samples.compact(NOW)["samples"] == 3
    read_after = samples.series(*pair, T0, T0 + timedelta(minutes=1))
    assert [(at.second, value) for at, value in read_after] == [
        (0, 0.0),
        (15, 99.9),
        (20, 55.5),
        (30, 12.5),
        (45, 21.9),
    ]
    assert read_after == [(at.replace(microsecond=0), value) for at, value in read_before]
    block = SampleBlock.objects.get()
    assert len(block.offsets) == 241
    assert block.offsets == sorted(set(block.offsets))


def test_a_rerun_finds_nothing_to_do_and_changes_nothing(two_hosts):
    samples.compact(NOW)
    blocks = list(SampleBlock.objects.order_by("host", "metric", "hour").values())
    again = samples.compact(NOW)
    assert again["samples"] == 0
    assert list(SampleBlock.objects.order_by("host", "metric", "hour").values()) == blocks


def test_a_run_that_dies_halfway_leaves_every_sample_in_one_table(two_hosts, monkeypatch):
    monkeypatch.setattr(samples, "SERIES_PER_CHUNK", 1)
    real = samples._merged
    calls = []

    def dies_on_the_third_series(*args):
        calls.append(args[1])
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real(*args)

    monkeypatch.setattr(samples, "_merged", dies_on_the_third_series)
    with pytest.raises(RuntimeError):
        samples.compact(NOW)
    # Two series of the first hour were folded; the third's narrow rows are intact.
    assert SampleBlock.objects.count() == 2
    assert MetricSample.objects.count() == 4 * 960 - 2 * 240
    for pair, points in two_hosts.items():
        read = _series(pair)
        assert [value for _, value in read] == [value for _, value in points]
    monkeypatch.setattr(samples, "_merged", real)
    samples.compact(NOW)
    assert MetricSample.objects.count() == 0 and SampleBlock.objects.count() == 16
    for pair, points in two_hosts.items():
        assert _series(pair) == _seconds(points)


@pytest.mark.parametrize(
    "value", [85.3, 90.0, 0.1, 99.99, 1024.0, 123456.7, 1e-3, -12.5, 3.3e9, 1234567.0, 0.999999]
)
def test_values_of_up_to_six_digits_come_back_exactly(value):
    assert samples.as_float4(value) == value


def test_every_six_digit_value_comes_back_exactly():
    for mantissa in range(100_000, 1_000_000, 997):
        for exponent in (-8, -3, 0, 4, 9):
            value = float(f"{mantissa}e{exponent}")
            assert samples.as_float4(value) == value


def test_longer_values_keep_seven_digits_and_extremes_are_clamped():
    assert samples.as_float4(1 / 3) == 0.33333334  # what PostgreSQL prints for a real
    assert abs(samples.as_float4(123456789.123) - 123456789.123) / 123456789.123 < 6e-8
    assert samples.as_float4(1e300) == pytest.approx(3.4028235e38)
    assert samples.as_float4(-1e300) == pytest.approx(-3.4028235e38)
    assert samples.as_float4(1e-300) == 0.0


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte", "eq"])
def test_a_threshold_equal_to_a_stored_value_compares_as_before_compaction(operator):
    """A percentile rule's backtest reads raw samples: at a threshold of exactly the
    samples' value, it fires (or not) the same over blocks as over narrow rows."""
    points = []
    for second in range(0, 2 * 3600, 15):
        value = 85.3 if 1800 <= second < 3600 else 41.7
        points.append((T0 + timedelta(seconds=second), value))
    store("web-01", {"cpu_usage_percent": points})
    rule = AlertRule.objects.create(
        name="cpu p95",
        metric="cpu_usage_percent",
        threshold=85.3,
        operator=operator,
        aggregation="p95",
        window_seconds=60,
        cooldown_seconds=0,
    )
    end = T0 + timedelta(hours=2)
    before = preview.backtest(rule, hours=3, now=end)
    samples.compact(NOW)
    assert MetricSample.objects.count() == 0
    after = preview.backtest(rule, hours=3, now=end)
    assert (after.firings, after.firing_minutes) == (before.firings, before.firing_minutes)
    # 85.3 for the second half hour, 41.7 around it: at the boundary itself, > and <
    # never count the 85.3 samples, >=, <= and == do.
    assert after.firings == {"gt": 0, "gte": 1, "lt": 2, "lte": 1, "eq": 1}[operator]
    [target] = after.targets
    assert target.peak == before.targets[0].peak


def test_the_api_serves_the_same_points_after_compaction(carol, client):
    store("web-01", {"cpu_usage_percent": _points(hours=3)})
    client.force_login(carol)
    query = {
        "host": "web-01",
        "metric": "cpu_usage_percent",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=3)).isoformat(),
        "step": 60,
    }
    before = client.get("/api/v1/metrics/system", query).json()
    samples.compact(NOW)
    assert SampleBlock.objects.count() == 3
    after = client.get("/api/v1/metrics/system", query).json()
    assert after["source"] == "raw" and after["points"] == before["points"]
    assert sum(point["count"] for point in after["points"]) == 3 * 240


def test_retention_removes_blocks_past_the_retention(settings):
    old_day = NOW.replace(hour=0) - timedelta(days=5)
    for day in range(5):
        points = _points(hours=1, start=old_day + timedelta(days=day))
        store("web-01", {"cpu_usage_percent": points})
    samples.compact(NOW)
    assert SampleBlock.objects.count() == 5
    settings.METRICS_RETENTION_DAYS = 3
    samples.drop_expired(NOW)
    cutoff = NOW - timedelta(days=3)
    kept = sorted(SampleBlock.objects.values_list("hour", flat=True))
    written = [old_day + timedelta(days=day) for day in range(5)]
    if connection.vendor == "postgresql":
        # Partitions of days wholly before the cutoff are dropped; the day across it is
        # kept whole, with its hours before the cutoff.
        assert kept == [hour for hour in written if hour + timedelta(days=1) > cutoff]
        assert min(kept) < cutoff
    else:
        # Blocks of hours wholly before the cutoff are deleted.
        assert kept == [hour for hour in written if hour + timedelta(hours=1) > cutoff]
    assert len(kept) in (2, 3)


@postgres_only
def test_postgresql_partitions_by_day_are_made_ahead_and_dropped_whole(settings):
    today = NOW.replace(hour=0)
    names = {name for name, _ in samples.partitions()}
    # Migrate made the retention period and the next days.
    for day in (today - timedelta(days=30), today, today + timedelta(days=2)):
        assert samples._partition_name(day) in names
    samples.compact(NOW)
    ahead = today + timedelta(days=samples.PARTITION_DAYS_AHEAD)
    assert samples._partition_name(ahead) in {name for name, _ in samples.partitions()}
    store("web-01", {"cpu_usage_percent": _points(hours=1, start=today - timedelta(days=10))})
    store("web-01", {"cpu_usage_percent": _points(hours=1, start=T0)})
    samples.compact(NOW)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, hour FROM metrics_sampleblock")
        placed = {hour: table for table, hour in cursor.fetchall()}
    assert placed == {
        today - timedelta(days=10): samples._partition_name(today - timedelta(days=10)),
        T0: samples._partition_name(T0.replace(hour=0)),
    }
    settings.METRICS_RETENTION_DAYS = 7
    dropped = samples.drop_expired(NOW)
    assert dropped >= 23  # the days from 31 to 8 days ago
    remaining = samples.partitions()
    assert min(day for _, day in remaining) == today - timedelta(days=7)
    assert list(SampleBlock.objects.values_list("hour", flat=True)) == [T0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_fold_each_sample_once():
    for host in ("web-01", "web-02", "web-03"):
        store(host, {"cpu_usage_percent": _points(hours=3)})
    total = MetricSample.objects.count()
    results, errors = [], []

    def run():
        try:
            results.append(samples.compact(NOW)["samples"])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(results) == total
    assert MetricSample.objects.count() == 0 and SampleBlock.objects.count() == 9
    for host in ("web-01", "web-02", "web-03"):
        pair = _ids(host, "cpu_usage_percent")
        assert _series(pair) == _seconds(_points(hours=3))


def test_the_admin_pages_through_narrow_and_compacted_samples_newest_first(client, alice):
    store("web-01", {"cpu_usage_percent": _points(hours=6), "load_1m": _points(hours=6)})
    samples.compact(NOW)
    host = Host.objects.get(hostname="web-01")
    newest = samples.NewestFirst(
        host.pk, list(Metric.objects.values_list("pk", flat=True)), T0, NOW
    )
    assert len(newest) == 2 * 6 * 240
    every = list(newest[0 : len(newest)])
    assert [at for _, at, _ in every] == sorted((at for _, at, _ in every), reverse=True)
    # A page across the boundary between the narrow hours and the blocks.
    boundary = 2 * 2 * 240
    assert newest[boundary - 50 : boundary + 50] == every[boundary - 50 : boundary + 50]
    assert every[-1][1] == T0
    client.force_login(alice)
    page = client.get(
        f"/admin/metrics/host/{host.pk}/samples/",
        {"metric": "load_1m", "hours": 8, "page": 10},
    )
    assert page.status_code == 200
    assert b"page 10 of 15" in page.content
    # Page 10 of 100 rows holds samples 900-999 from the newest: a compacted hour's.
    rows = page.content.split(b"<tbody>")[1].split(b"</tbody>")[0].count(b"<tr>")
    assert rows == 100
    load = samples.NewestFirst(host.pk, [_ids("web-01", "load_1m")[1]], T0, NOW)
    _, at, value = load[900]
    assert f"{value:g}".encode() in page.content and at < NOW - timedelta(hours=3)
