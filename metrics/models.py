"""Hosts and their samples.

``MetricSample`` is deliberately narrow (time, value, host id, metric id: 24 bytes of
data, 48 with the row header) with the composite primary key doubling as the chart
index, so a raw sample costs under 100 bytes on PostgreSQL with its indexes. It holds
the newest hours only: closed hours move into ``SampleBlock`` (one row per series and
hour, ~7 bytes a sample), see ``metrics.samples``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone


class Host(models.Model):
    # 4-byte ids: every sample row carries a host id and a metric id, and neither
    # catalogue comes near two billion rows; 8-byte ids would add 8 bytes per sample
    # to the table and 8 to its primary key index.
    id = models.AutoField(primary_key=True)
    hostname = models.CharField(max_length=255, unique=True)
    is_local = models.BooleanField(
        default=False, help_text="Sampled by this console's own workers rather than an agent."
    )
    labels = models.JSONField(default=dict, blank=True)
    platform = models.CharField(max_length=255, blank=True)
    cpu_count = models.PositiveIntegerField(null=True, blank=True)
    memory_total_bytes = models.BigIntegerField(null=True, blank=True)
    boot_time = models.DateTimeField(null=True, blank=True)
    agent_version = models.CharField(max_length=64, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True, help_text="Disabled hosts' batches are refused.")

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname

    def is_stale(self, interval_seconds: int) -> bool:
        """No sample for three collection intervals: the host or its agent is silent."""
        if self.last_seen is None:
            return True
        return timezone.now() - self.last_seen > timedelta(seconds=3 * interval_seconds)


class Unit(models.TextChoices):
    PERCENT = "percent", "%"
    BYTES = "bytes", "bytes"
    BYTES_PER_SECOND = "bytes_per_second", "bytes/s"
    PER_SECOND = "per_second", "/s"
    COUNT = "count", "count"
    MILLISECONDS = "ms", "ms"
    SECONDS = "seconds", "s"
    LOAD = "load", "load"
    NONE = "", "(none)"


class Metric(models.Model):
    """One series name with its labels, e.g. ``disk_usage_percent{mount="/"}``."""

    id = models.AutoField(primary_key=True)  # 4 bytes, see Host.id
    key = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=128, db_index=True)
    labels = models.JSONField(default=dict, blank=True)
    unit = models.CharField(max_length=32, choices=Unit.choices, blank=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class MetricSample(models.Model):
    # Field order is the column order: two 8-byte columns first, then two 4-byte ids,
    # so PostgreSQL packs the row without alignment padding.
    time = models.DateTimeField()
    value = models.FloatField()
    # No constraints on PostgreSQL (migration 0006): checking them was most of a batch's
    # write. Ingest guards the host in its statement; roll-ups and compaction skip rows
    # whose host or metric is gone. Deletion still cascades (or is refused) in the ORM.
    host = models.ForeignKey(Host, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    metric = models.ForeignKey(
        Metric, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    # The primary key index serves "series of host H, metric M between t0 and t1"
    # (charts, latest value fallback, roll-ups of one series). The evaluator's and the
    # retention job's "everything newer/older than T" uses a BRIN index on time on
    # PostgreSQL (a few pages for any size) and a B-tree on SQLite; see migration 0002.
    pk = models.CompositePrimaryKey("host", "metric", "time")

    class Meta:
        verbose_name = "metric sample"

    def __str__(self) -> str:
        return f"{self.host_id}/{self.metric_id}@{self.time:%Y-%m-%d %H:%M:%S}={self.value}"


class Resolution(models.TextChoices):
    MINUTE = "1m", "1 minute"
    HOUR = "1h", "1 hour"


class RollupBase(models.Model):
    bucket = models.DateTimeField()
    min = models.FloatField()
    max = models.FloatField()
    sum = models.FloatField()
    count = models.IntegerField()
    host = models.ForeignKey(Host, on_delete=models.CASCADE, db_index=False)
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, db_index=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.host_id}/{self.metric_id}@{self.bucket:%Y-%m-%d %H:%M}"

    @property
    def avg(self) -> float:
        return self.sum / self.count if self.count else 0.0


class MinuteRollup(RollupBase):
    # Primary key index: "series of host H, metric M over a range" (charts of 1-24 h).
    pk = models.CompositePrimaryKey("host", "metric", "bucket")

    class Meta:
        verbose_name = "1-minute roll-up"
        indexes = [
            # Retention: DELETE ... WHERE bucket < cutoff.
            models.Index(fields=["bucket"], name="minuterollup_bucket"),
        ]


class HourRollup(RollupBase):
    # Primary key index: "series of host H, metric M over a range" (charts of days).
    pk = models.CompositePrimaryKey("host", "metric", "bucket")

    class Meta:
        verbose_name = "1-hour roll-up"
        indexes = [
            # Retention: DELETE ... WHERE bucket < cutoff.
            models.Index(fields=["bucket"], name="hourrollup_bucket"),
        ]


class ProcessSample(models.Model):
    time = models.DateTimeField()
    # No constraint on PostgreSQL, as MetricSample's (migration 0006).
    host = models.ForeignKey(Host, on_delete=models.CASCADE, db_index=False, db_constraint=False)
    pid = models.IntegerField()
    name = models.CharField(max_length=255)
    username = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    cpu_percent = models.FloatField(help_text="% of one core")
    memory_percent = models.FloatField()
    rss_bytes = models.BigIntegerField()
    num_threads = models.IntegerField(null=True, blank=True)
    read_bytes_per_second = models.FloatField(null=True, blank=True)
    write_bytes_per_second = models.FloatField(null=True, blank=True)
    cmdline = models.CharField(max_length=512, blank=True)

    class Meta:
        verbose_name = "process sample"
        indexes = [
            # The process table and GET /metrics/processes: host H's inventory at/near T.
            models.Index(fields=["host", "time"], name="processsample_host_time"),
            # Retention: DELETE ... WHERE time < cutoff.
            models.Index(fields=["time"], name="processsample_time"),
            # Process rules: one process's samples over a window (the evaluator) or
            # over days (a rule's backtest), without reading every other process's.
            models.Index(fields=["name", "time"], name="processsample_name_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pid})"


class NumberArrayField(models.Field):
    """A list of numbers: a native array on PostgreSQL (``real[]``, ``smallint[]``), a
    JSON array in a text column on SQLite, read back as a Python list on both."""

    def __init__(self, *args: Any, element_type: str = "real", **kwargs: Any) -> None:
        self.element_type = element_type
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["element_type"] = self.element_type
        return name, path, args, kwargs

    def db_type(self, connection: Any) -> str:
        return f"{self.element_type}[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if connection.vendor == "postgresql":
            # An array literal ('{85.3,90}', cast by the column): adapting each of a few
            # hundred numbers as a parameter costs ten times as much. repr is exact.
            return "{" + ",".join(map(repr, value)) + "}"
        return json.dumps(list(value), separators=(",", ":"))


class SampleBlock(models.Model):
    """One series' raw samples of one hour: seconds past the hour and values, in time
    order, at most one sample per second.

    Samples leave ``MetricSample`` for here once their hour is closed and rolled up
    (``metrics.samples.compact``). A row of 240 samples costs about 1.6 kB on PostgreSQL
    where 240 narrow rows cost 23 kB. Values are kept as 4-byte floats: the agent's value
    exactly when it has at most 6 significant digits, else within 6e-8 of it (relative);
    see ``metrics.samples.as_float4`` and docs/architecture.md.
    On PostgreSQL the table is partitioned by day on ``hour`` (migration 0005), so
    retention drops whole days.
    """

    hour = models.DateTimeField()
    host = models.ForeignKey(Host, on_delete=models.CASCADE, db_index=False)
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, db_index=False)
    offsets = NumberArrayField(element_type="smallint")
    readings = NumberArrayField(element_type="real")
    pk = models.CompositePrimaryKey("host", "metric", "hour")

    class Meta:
        verbose_name = "sample block"

    def __str__(self) -> str:
        return f"{self.host_id}/{self.metric_id}@{self.hour:%Y-%m-%d %H}h ({len(self.offsets)})"
