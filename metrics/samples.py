"""Raw samples: the newest in the narrow ``MetricSample`` table, closed hours in blocks.

Ingest writes one narrow row per sample, and the evaluator reads the last minutes there.
Once an hour is closed, older than ``METRICS_NARROW_HOURS`` (and than the longest
window of an enabled metric rule) and folded by the minute roll-ups, ``compact`` moves
its rows into one ``SampleBlock`` row per series: ~6.5 bytes a sample instead of ~97.

    samples.series(host_id, metric_id, start, end)        # [(time, value), ...]
    samples.read(host_ids, metric_ids, start, end)        # {(host, metric): [...]}
    samples.compact()                                     # the ticker's job
    samples.drop_expired()                                # retention of blocks

Every reader of raw samples over a range goes through ``read``, which merges both
tables, so a range reads the same before and after its hour is compacted. A sample
in the narrow table wins over a block's sample of the same second (a resent batch),
exactly as ``compact`` merges them.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from metrics.models import Host, Metric, MetricSample, SampleBlock

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Series per compaction transaction: at one sample per 15 s, 48,000 narrow rows.
SERIES_PER_CHUNK = 200
# PostgreSQL partitions exist this many days ahead of today.
PARTITION_DAYS_AHEAD = 3
# The minute roll-up job's watermark (metrics.rollups): minutes before it are folded.
ROLLUP_WATERMARK_KEY = "rollup:minute_watermark"
# Serialises compaction runs on PostgreSQL (an arbitrary application-wide lock id).
LOCK_ID = 0x0C0_5A3B
_FLOAT4_MAX = 3.4028234663852886e38


@functools.lru_cache(maxsize=1 << 16)  # agents' values repeat (percentages, counts)
def as_float4(value: float) -> float:
    """``value`` as a block keeps it: rounded to a 4-byte float and read back as the
    shortest decimal that names that float (what PostgreSQL prints for a ``real``).

    A value of at most 6 significant digits (85.3, 1024, 0.125, 99.9999) comes back
    exactly, as do integers up to 16,777,216; any other is within 6e-8 of itself
    (relative). Magnitudes beyond a 4-byte float's range are clamped to it rather than
    refused, and below its smallest (1.4e-45) read as 0.
    """
    if abs(value) >= _FLOAT4_MAX:
        value = _FLOAT4_MAX if value > 0 else -_FLOAT4_MAX
    packed = struct.pack("<f", value)
    rounded = struct.unpack("<f", packed)[0]
    for digits in range(6, 10):
        text = f"{rounded:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return float(text)
    return rounded  # unreachable: 9 digits always name a 4-byte float


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _param(at: datetime) -> datetime | str | None:
    if connection.vendor == "postgresql":
        return at
    # SQLite stores UTC text; compare with exactly the text Django would write.
    return connection.ops.adapt_datetimefield_value(at)


# -- reading ---------------------------------------------------------------------------
Points = list[tuple[datetime, float]]
Row = tuple[int, datetime, float]  # (metric id, time, value), a row of NewestFirst


def read(
    host_ids: Iterable[int],
    metric_ids: Iterable[int],
    start: datetime,
    end: datetime,
    *,
    include_end: bool = False,
) -> dict[tuple[int, int], Points]:
    """Every raw sample of the given hosts and metrics with start <= time < end (or
    <= end), per (host, metric) in time order, from the narrow table and the blocks."""
    host_ids, metric_ids = list(host_ids), list(metric_ids)
    found: dict[tuple[int, int], Points] = defaultdict(list)
    if not host_ids or not metric_ids or start > end or (start == end and not include_end):
        return found
    narrow = MetricSample.objects.filter(
        host_id__in=host_ids, metric_id__in=metric_ids, time__gte=start
    )
    narrow = narrow.filter(time__lte=end) if include_end else narrow.filter(time__lt=end)
    for host_id, metric_id, at, value in narrow.values_list(
        "host_id", "metric_id", "time", "value"
    ).iterator(chunk_size=5000):
        found[(host_id, metric_id)].append((at, value))
    blocks = SampleBlock.objects.filter(
        host_id__in=host_ids, metric_id__in=metric_ids, hour__gte=_floor_hour(start)
    )
    blocks = blocks.filter(hour__lte=end) if include_end else blocks.filter(hour__lt=end)
    low, high = start.timestamp(), end.timestamp()
    # The seconds of each series' narrow samples, made when a block of it comes up.
    narrow_seconds: dict[tuple[int, int], set[int]] = {}
    for host_id, metric_id, hour, offsets, readings in blocks.values_list(
        "host_id", "metric_id", "hour", "offsets", "readings"
    ).iterator(chunk_size=500):
        base = hour.timestamp()
        pair = (host_id, metric_id)
        if pair not in narrow_seconds:
            narrow_seconds[pair] = {int(at.timestamp()) for at, _ in found.get(pair, ())}
        taken = narrow_seconds[pair]
        points = found[pair]
        for offset, value in zip(offsets, readings, strict=True):
            second = base + offset
            inside = low <= second and (second < high or (include_end and second == high))
            if inside and int(second) not in taken:
                points.append((datetime.fromtimestamp(second, tz=UTC), value))
    for points in found.values():
        points.sort(key=lambda point: point[0])
    return found


def series(host_id: int, metric_id: int, start: datetime, end: datetime) -> Points:
    """One series' raw samples with start <= time < end, in time order."""
    return read([host_id], [metric_id], start, end).get((host_id, metric_id), [])


class NewestFirst(Sequence[Row]):
    """One host's samples of some metrics in [start, end), newest first, as a sequence a
    Paginator can page through: it counts per hour, and reads only the hours a slice
    needs (a month of a host is millions of samples)."""

    def __init__(self, host_id: int, metric_ids: list[int], start: datetime, end: datetime):
        self.host_id, self.metric_ids, self.start, self.end = host_id, metric_ids, start, end
        per_hour: dict[datetime, int] = defaultdict(int)
        narrow = MetricSample.objects.filter(
            host_id=host_id, metric_id__in=metric_ids, time__gte=start, time__lt=end
        )
        for at in narrow.values_list("time", flat=True).iterator(chunk_size=5000):
            per_hour[_floor_hour(at)] += 1
        blocks = SampleBlock.objects.filter(
            host_id=host_id, metric_id__in=metric_ids, hour__gte=_floor_hour(start), hour__lt=end
        )
        base, high = start.timestamp(), end.timestamp()
        for hour, offsets in blocks.values_list("hour", "offsets").iterator(chunk_size=500):
            first = hour.timestamp()
            per_hour[hour] += sum(1 for o in offsets if base <= first + o < high)
        # Newest hour first; a second in both tables is counted twice here and read once.
        self.hours = sorted(per_hour.items(), reverse=True)
        self.total = sum(count for _, count in self.hours)

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        first, stop, _ = index.indices(self.total)
        rows: list[Row] = []
        seen = 0
        for hour, count in self.hours:
            if seen + count > first and seen < stop:
                found = read(
                    [self.host_id],
                    self.metric_ids,
                    max(hour, self.start),
                    min(hour + HOUR, self.end),
                )
                in_hour = [
                    (metric_id, at, value)
                    for (_, metric_id), points in found.items()
                    for at, value in points
                ]
                in_hour.sort(key=lambda row: (row[1], row[0]), reverse=True)
                rows.extend(in_hour[max(first - seen, 0) : stop - seen])
            seen += count
            if seen >= stop:
                break
        return rows


# -- compaction ------------------------------------------------------------------------
# Callables giving how far back, in seconds, a reader of the narrow table looks (the
# alerts app registers its longest enabled rule window): metrics imports no app.
_reaches: list[Callable[[], int]] = []


def register_reach(reach: Callable[[], int]) -> None:
    """Keep samples this many seconds back (and an hour more) in the narrow table."""
    if reach not in _reaches:
        _reaches.append(reach)


def narrow_horizon(now: datetime) -> datetime:
    """Samples newer than this stay narrow: METRICS_NARROW_HOURS, longer when an enabled
    rule's window reaches further back (the evaluator reads its window there), and never
    past the minutes the roll-up job has folded."""
    longest = max((reach() for reach in _reaches), default=0)
    keep = max(timedelta(hours=settings.METRICS_NARROW_HOURS), timedelta(seconds=longest) + HOUR)
    horizon = now - keep
    watermark = cache.get(ROLLUP_WATERMARK_KEY)
    if watermark:
        horizon = min(horizon, datetime.fromisoformat(watermark))
    return horizon


def compact(now: datetime | None = None) -> dict:
    """Fold the narrow rows of every closed hour before the horizon into blocks.

    Each chunk of series is one transaction that deletes its narrow rows and writes
    their blocks, so a run that dies halfway leaves every sample in exactly one table,
    and a rerun finds only what is left. Runs at the same time take turns per chunk
    (an advisory lock on PostgreSQL, the write lock on SQLite).
    """
    now = now or timezone.now()
    end = _floor_hour(narrow_horizon(now))
    first_day = (
        (now - timedelta(days=settings.METRICS_RETENTION_DAYS))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    if connection.vendor == "postgresql":
        ensure_partitions(first_day, now + timedelta(days=PARTITION_DAYS_AHEAD))
    moved = hours = 0
    day = first_day
    while day < end:
        # One cheap probe a day (the time index) skips the days already compacted.
        if _has_narrow_rows(day, min(day + DAY, end)):
            hour = day
            while hour < min(day + DAY, end):
                done = compact_hour(hour)
                moved += done
                hours += bool(done)
                hour += HOUR
        day += DAY
    return {"samples": moved, "hours": hours, "to": end}


def _has_narrow_rows(start: datetime, end: datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {MetricSample._meta.db_table} WHERE time >= %s AND time < %s LIMIT 1",
            [_param(start), _param(end)],
        )
        return cursor.fetchone() is not None


def compact_hour(hour: datetime) -> int:
    """Fold the narrow rows of one hour into blocks, SERIES_PER_CHUNK series at a time."""
    table = MetricSample._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT host_id, metric_id FROM {table} "
            "WHERE time >= %s AND time < %s ORDER BY host_id, metric_id",
            [_param(hour), _param(hour + HOUR)],
        )
        pairs = cursor.fetchall()
    moved = 0
    for first in range(0, len(pairs), SERIES_PER_CHUNK):
        chunk = pairs[first : first + SERIES_PER_CHUNK]
        moved += _compact_chunk(hour, chunk[0], chunk[-1])
    return moved


def _compact_chunk(hour: datetime, low: tuple[int, int], high: tuple[int, int]) -> int:
    """Move the series low..high (by host, metric) of one hour into their blocks."""
    table = MetricSample._meta.db_table
    between = "(host_id, metric_id) >= (%s, %s) AND (host_id, metric_id) <= (%s, %s)"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        # The DELETE comes first: on SQLite it takes the write lock before anything is
        # read, so a second run waits here and then finds these rows gone.
        # Each row's whole second since the epoch and a key that orders it within the
        # second, computed by the database: parsing 48,000 datetimes in Python costs more
        # than the rest of the chunk.
        if connection.vendor == "postgresql":
            second, order = (
                "floor(extract(epoch FROM time))::bigint",
                "extract(epoch FROM time)::float8",
            )
        else:
            second, order = "CAST(strftime('%%s', time) AS INTEGER)", "time"
        cursor.execute(
            f"DELETE FROM {table} WHERE {between} AND time >= %s AND time < %s "
            f"RETURNING host_id, metric_id, {second}, {order}, value",
            [*low, *high, _param(hour), _param(hour + HOUR)],
        )
        narrow: dict[tuple[int, int], list[tuple]] = defaultdict(list)
        for host_id, metric_id, at_second, order_key, value in cursor.fetchall():
            narrow[(host_id, metric_id)].append((order_key, at_second, value))
        if not narrow:
            return 0
        _leave_out_orphans(narrow)
        existing = {
            (block.host_id, block.metric_id): block
            for block in SampleBlock.objects.filter(
                hour=hour, host_id__gte=low[0], host_id__lte=high[0]
            )
            if (block.host_id, block.metric_id) in narrow
        }
        written = [
            _merged(hour, pair, existing.get(pair), points) for pair, points in narrow.items()
        ]
        SampleBlock.objects.bulk_create(
            written,
            update_conflicts=True,
            unique_fields=["host", "metric", "hour"],
            update_fields=["offsets", "readings"],
        )
    return sum(len(points) for points in narrow.values())


def _leave_out_orphans(narrow: dict[tuple[int, int], list[tuple]]) -> None:
    """Drop the series whose host or metric is gone from ``narrow`` (deleted with the
    narrow rows, never written as blocks). The narrow table has no foreign keys on
    PostgreSQL (migration 0006): a batch stored as its host was deleted leaves such
    rows behind, and blocks keep theirs."""
    host_ids = {host_id for host_id, _ in narrow}
    metric_ids = {metric_id for _, metric_id in narrow}
    live_hosts = set(Host.objects.filter(pk__in=host_ids).values_list("pk", flat=True))
    live_metrics = set(Metric.objects.filter(pk__in=metric_ids).values_list("pk", flat=True))
    if len(live_hosts) == len(host_ids) and len(live_metrics) == len(metric_ids):
        return
    for pair in [p for p in narrow if p[0] not in live_hosts or p[1] not in live_metrics]:
        logger.info(
            "left out %s samples of series %s: its host or metric is gone", len(narrow[pair]), pair
        )
        del narrow[pair]


def _merged(
    hour: datetime, pair: tuple[int, int], block: SampleBlock | None, points: list[tuple]
) -> SampleBlock:
    """The block of ``pair`` with ``points`` ((order key, epoch second, value)) folded
    in: one sample per second, a narrow sample replacing the block's of the same second,
    later narrow samples earlier ones."""
    by_second: dict[int, float] = {}
    if block is not None:
        by_second.update(zip(block.offsets, block.readings, strict=True))
    base = int(hour.timestamp())
    points.sort(key=lambda point: point[0])
    for _, at_second, value in points:
        by_second[at_second - base] = as_float4(value)
    offsets = sorted(by_second)
    return SampleBlock(
        host_id=pair[0],
        metric_id=pair[1],
        hour=hour,
        offsets=offsets,
        readings=[by_second[offset] for offset in offsets],
    )


# -- partitions and retention ----------------------------------------------------------
def _partition_name(day: datetime) -> str:
    return f"{SampleBlock._meta.db_table}_p{day:%Y%m%d}"


def partitions() -> list[tuple[str, datetime]]:
    """The day partitions of the block table on PostgreSQL: (name, first day), by day."""
    if connection.vendor != "postgresql":
        return []
    prefix = f"{SampleBlock._meta.db_table}_p"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [SampleBlock._meta.db_table],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        if name.startswith(prefix):
            day = datetime.strptime(name[len(prefix) :], "%Y%m%d").replace(tzinfo=UTC)
            found.append((name, day))
    return sorted(found, key=lambda item: item[1])


def ensure_partitions(first: datetime, last: datetime) -> list[str]:
    """Create the missing day partitions from ``first``'s day to ``last``'s."""
    have = {name for name, _ in partitions()}
    day = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    created = []
    with connection.cursor() as cursor:
        while day <= last:
            name = _partition_name(day)
            if name not in have:
                # DDL takes no parameters; both bounds are formatted datetimes.
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF "
                    f"{SampleBlock._meta.db_table} "
                    f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + DAY).isoformat()}')"
                )
                created.append(name)
            day += DAY
    if created:
        logger.info("created sample block partitions %s", ", ".join(created))
    return created


def drop_expired(now: datetime | None = None) -> int:
    """Remove blocks older than METRICS_RETENTION_DAYS: on PostgreSQL the partitions
    of days wholly before the cutoff (a day's partition goes once its last hour has
    expired), on SQLite the blocks of hours wholly before it. Returns partitions
    dropped or blocks deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.METRICS_RETENTION_DAYS)
    if connection.vendor == "postgresql":
        dropped = 0
        with connection.cursor() as cursor:
            if connection.in_atomic_block:
                # Blocks written earlier in this transaction have their foreign keys
                # checked at commit; a table with checks pending cannot be dropped.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name, day in partitions():
                if day + DAY <= cutoff:
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")
                    dropped += 1
        return dropped
    deleted, _ = SampleBlock.objects.filter(hour__lte=cutoff - HOUR).delete()
    return deleted
