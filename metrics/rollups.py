"""1-minute and 1-hour roll-ups, chart series, and retention.

Roll-ups are upserts over a closed window, so running a job twice or late is harmless.
Charts read raw samples for short ranges and roll-ups beyond, so a 30-day chart reads
720 hourly rows rather than 170,000 raw ones.

The minute job folds each minute once, ``ROLLUP_GRACE_SECONDS`` after it closed (samples
arriving late within that are in it), from a watermark: a run reads only the raw samples
of minutes not folded yet, not the whole hour again. An hour is folded once from its
minute buckets when its last minute is. Each fold recomputes its buckets from their
source, so a run repeated, or one that died before moving its watermark, writes the
same rows again; a lost watermark (the cache cleared) only re-folds the last minutes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from metrics import samples
from metrics.models import Host, HourRollup, Metric, MetricSample, MinuteRollup, ProcessSample

logger = logging.getLogger(__name__)

RAW_MAX_RANGE = timedelta(hours=3)
MINUTE_MAX_RANGE = timedelta(days=7)
DELETE_BATCH = 5000
# How far back a minute-roll-up chart reads raw samples not rolled up yet.
TAIL_MAX = timedelta(hours=1)


def _trunc(column: str, unit: str) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('{unit}', {column})"
    fmt = "%Y-%m-%d %H:%M:00" if unit == "minute" else "%Y-%m-%d %H:00:00"
    return f"strftime('{fmt}', {column})"


def _param(at: datetime):
    if connection.vendor == "postgresql":
        return at
    # SQLite stores UTC text; compare with exactly the text Django would write.
    return connection.ops.adapt_datetimefield_value(at)


def _upsert(target: str, select_sql: str, params: list) -> int:
    sql = (
        f"INSERT INTO {target} (host_id, metric_id, bucket, min, max, sum, count) "
        f"{select_sql} "
        "ON CONFLICT (host_id, metric_id, bucket) DO UPDATE SET "
        "min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def rollup_minutes(start: datetime, end: datetime) -> int:
    """Aggregate raw samples with start <= time < end into 1-minute buckets."""
    bucket = _trunc("time", "minute")
    select = (
        f"SELECT host_id, metric_id, {bucket} AS b, MIN(value), MAX(value), SUM(value), COUNT(*) "
        f"FROM {MetricSample._meta.db_table} WHERE time >= %s AND time < %s "
        # The narrow table has no foreign keys on PostgreSQL (migration 0006): a row
        # written as its host or metric was deleted is left out, never rolled up.
        f"AND host_id IN (SELECT id FROM {Host._meta.db_table}) "
        f"AND metric_id IN (SELECT id FROM {Metric._meta.db_table}) "
        f"GROUP BY host_id, metric_id, {bucket}"
    )
    return _upsert(MinuteRollup._meta.db_table, select, [_param(start), _param(end)])


def rollup_hours(start: datetime, end: datetime) -> int:
    """Aggregate 1-minute buckets with start <= bucket < end into 1-hour buckets."""
    bucket = _trunc("bucket", "hour")
    select = (
        f"SELECT host_id, metric_id, {bucket} AS b, MIN(min), MAX(max), SUM(sum), SUM(count) "
        f"FROM {MinuteRollup._meta.db_table} WHERE bucket >= %s AND bucket < %s "
        f"GROUP BY host_id, metric_id, {bucket}"
    )
    return _upsert(HourRollup._meta.db_table, select, [_param(start), _param(end)])


def _floor(at: datetime, unit: timedelta) -> datetime:
    epoch = at.timestamp()
    return datetime.fromtimestamp(epoch - epoch % unit.total_seconds(), tz=at.tzinfo)


MINUTE_WATERMARK = samples.ROLLUP_WATERMARK_KEY  # compaction reads it too
HOUR_WATERMARK = "rollup:hour_watermark"
# Without a watermark (a new console, a cleared cache), this many minutes are folded.
FRESH_START = timedelta(minutes=10)


def _watermark(key: str) -> datetime | None:
    value = cache.get(key)
    return datetime.fromisoformat(value) if value else None


def run_rollups(now: datetime | None = None) -> dict:
    """Fold the minutes closed for longer than the grace period and not folded yet (at
    most a day back, in 1 h chunks, each moving the watermark when it commits), then
    the hours whose every minute is folded."""
    now = now or timezone.now()
    minute_end = _floor(
        now - timedelta(seconds=settings.ROLLUP_GRACE_SECONDS), timedelta(minutes=1)
    )
    start = _watermark(MINUTE_WATERMARK) or minute_end - FRESH_START
    start = max(start, minute_end - timedelta(days=1))
    minutes = 0
    chunk_start = start
    while chunk_start < minute_end:
        chunk_end = min(chunk_start + timedelta(hours=1), minute_end)
        with transaction.atomic():
            minutes += rollup_minutes(chunk_start, chunk_end)
        cache.set(MINUTE_WATERMARK, chunk_end.isoformat(), None)
        chunk_start = chunk_end
    folded_to = max(start, minute_end)
    hours = 0
    hour_end = _floor(folded_to, timedelta(hours=1))
    hour_start = _watermark(HOUR_WATERMARK) or _floor(start, timedelta(hours=1))
    hour_start = max(hour_start, hour_end - timedelta(days=1))
    if hour_start < hour_end:
        with transaction.atomic():
            hours = rollup_hours(hour_start, hour_end)
        cache.set(HOUR_WATERMARK, hour_end.isoformat(), None)
    return {
        "minute_rows": minutes,
        "hour_rows": hours,
        "from": start,
        "to": folded_to,
        "hours_to": max(hour_start, hour_end),
    }


def _delete_older(table: str, column: str, cutoff: datetime) -> int:
    """Delete rows older than cutoff in small batches, each its own short transaction."""
    key = "ctid" if connection.vendor == "postgresql" else "rowid"
    sql = (
        f"DELETE FROM {table} WHERE {key} IN "
        f"(SELECT {key} FROM {table} WHERE {column} < %s LIMIT {DELETE_BATCH})"
    )
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [_param(cutoff)])
            deleted = cursor.rowcount
        total += deleted
        if deleted < DELETE_BATCH:
            return total
        time.sleep(0.01)  # let writers in between batches


def run_retention(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    days = timedelta(days=1)
    return {
        "samples": _delete_older(
            MetricSample._meta.db_table, "time", now - settings.METRICS_RETENTION_DAYS * days
        ),
        "processes": _delete_older(
            ProcessSample._meta.db_table, "time", now - settings.PROCESS_RETENTION_DAYS * days
        ),
        "minute_rollups": _delete_older(
            MinuteRollup._meta.db_table,
            "bucket",
            now - settings.ROLLUP_MINUTE_RETENTION_DAYS * days,
        ),
        "hour_rollups": _delete_older(
            HourRollup._meta.db_table, "bucket", now - settings.ROLLUP_HOUR_RETENTION_DAYS * days
        ),
    }


# -- chart series ------------------------------------------------------------------------
AGGREGATIONS = ("avg", "min", "max", "last", "count", "sum")


@dataclass
class Point:
    time: datetime
    value: float
    min: float
    max: float
    count: int


def source_for(start: datetime, end: datetime) -> str:
    span = end - start
    if span <= RAW_MAX_RANGE:
        return "raw"
    if span <= MINUTE_MAX_RANGE:
        return "1m"
    return "1h"


def series(
    host_id: int,
    metric_id: int,
    start: datetime,
    end: datetime,
    *,
    step_seconds: int | None = None,
    aggregation: str = "avg",
    max_points: int = 360,
) -> tuple[str, int, list[Point]]:
    """Points for one series over [start, end): (source, step, points)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    source = source_for(start, end)
    span = (end - start).total_seconds()
    minimum_step = {"raw": 1, "1m": 60, "1h": 3600}[source]
    step = max(step_seconds or 0, minimum_step, int(span // max_points) or 1)
    # Every row is (time, sum, min, max, count); a raw sample is a bucket of one.
    if source == "raw":
        rows = _raw_rows(host_id, metric_id, start, end)
    else:
        model = MinuteRollup if source == "1m" else HourRollup
        rows = list(
            model.objects.filter(
                host_id=host_id, metric_id=metric_id, bucket__gte=start, bucket__lt=end
            )
            .order_by("bucket")
            .values_list("bucket", "sum", "min", "max", "count")
        )
        if source == "1m":
            # The newest minutes are not rolled up yet (each is folded once, after the
            # grace period): read them raw so the chart reaches the present.
            rolled_to = rows[-1][0] + timedelta(minutes=1) if rows else start
            rows += _raw_rows(host_id, metric_id, max(rolled_to, end - TAIL_MAX), end)
        else:
            # The open hour is folded when it closes: its minutes so far stand in for it.
            rolled_to = rows[-1][0] + timedelta(hours=1) if rows else start
            rows += list(
                MinuteRollup.objects.filter(
                    host_id=host_id,
                    metric_id=metric_id,
                    bucket__gte=max(rolled_to, end - 2 * TAIL_MAX),
                    bucket__lt=end,
                )
                .order_by("bucket")
                .values_list("bucket", "sum", "min", "max", "count")
            )
    points: list[Point] = []
    origin = start.timestamp()
    current_slot = None
    acc: list = []
    for at, value_or_sum, low, high, count in rows:
        slot = int((at.timestamp() - origin) // step)
        if slot != current_slot and acc:
            points.append(_fold(acc, origin, current_slot, step, aggregation))
            acc = []
        current_slot = slot
        acc.append((value_or_sum, low, high, count))
    if acc:
        points.append(_fold(acc, origin, current_slot, step, aggregation))
    return source, step, points


def _raw_rows(host_id: int, metric_id: int, start: datetime, end: datetime) -> list[tuple]:
    if start >= end:
        return []
    # Both tables: the newest hours narrow, closed hours compacted into blocks.
    return [(t, v, v, v, 1) for t, v in samples.series(host_id, metric_id, start, end)]


def _fold(acc, origin, slot, step, aggregation) -> Point:
    counts = sum(c for *_, c in acc)
    # raw rows carry the value itself, roll-up rows carry their sum
    total = sum(v for v, *_ in acc)
    low = min(lo for _, lo, _, _ in acc)
    high = max(hi for _, _, hi, _ in acc)
    if aggregation == "avg":
        value = total / counts if counts else 0.0
    elif aggregation == "min":
        value = low
    elif aggregation == "max":
        value = high
    elif aggregation == "count":
        value = float(counts)
    elif aggregation == "sum":
        value = total
    else:  # last
        last_sum, _, _, last_count = acc[-1]
        value = last_sum / max(last_count, 1)
    at = datetime.fromtimestamp(origin + slot * step, tz=UTC)
    return Point(time=at, value=value, min=low, max=high, count=counts)
