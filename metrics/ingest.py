"""The one ingest path: collector, agent batches and pushed business metrics all land here.

``ingest()`` stores a batch atomically (COPY on PostgreSQL, executemany on SQLite),
refreshes the host's "latest" cache entry, and after commit publishes a live vitals
event and sends ``samples_ingested`` (the evaluator's hook).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from metrics import catalog
from metrics.models import Host, Metric, MetricSample, ProcessSample
from metrics.signals import samples_ingested
from opsconsole.live import publish_now

logger = logging.getLogger(__name__)

VITALS_GROUP = "vitals"
LATEST_TTL_SECONDS = 7 * 24 * 3600


class IngestError(ValueError):
    """A batch that cannot be stored as it is; nothing of it was stored."""


@dataclass
class Batch:
    hostname: str
    # (series key, value, time)
    samples: list[tuple[str, float, datetime]] = field(default_factory=list)
    processes: list[dict] = field(default_factory=list)
    process_time: datetime | None = None
    host_info: dict = field(default_factory=dict)
    # Units for pushed metrics the catalog does not know: {metric name: unit}.
    units: dict[str, str] = field(default_factory=dict)
    is_local: bool = False


@dataclass
class IngestResult:
    host: Host
    samples: int
    processes: int
    newest: datetime | None
    latency_ms: float


# Process-local id caches: a metric key or hostname maps to the same id forever.
_metric_ids: dict[str, int] = {}
_host_ids: dict[str, int] = {}


def latest_cache_key(host_id: int) -> str:
    return f"latest:{host_id}"


def get_latest(host: Host) -> dict:
    """``{"time": iso, "values": {key: value}, "processes": [...]}`` for one host."""
    return cache.get(latest_cache_key(host.pk)) or {"time": None, "values": {}, "processes": []}


def metric_ids(keys: set[str], units: dict[str, str] | None = None) -> dict[str, int]:
    """Ids for series keys, creating catalog rows for new ones (race-safe)."""
    missing = [key for key in keys if key not in _metric_ids]
    if missing:
        found = dict(Metric.objects.filter(key__in=missing).values_list("key", "id"))
        new_rows = []
        for key in missing:
            if key in found:
                continue
            name, labels = catalog.parse_key(key)
            unit = catalog.unit_of(name) or (units or {}).get(name, "")
            new_rows.append(
                Metric(
                    key=key,
                    name=name,
                    labels=labels,
                    unit=unit,
                    description=catalog.describe(name),
                )
            )
        if new_rows:
            # Another process may create the same keys at the same time.
            Metric.objects.bulk_create(new_rows, ignore_conflicts=True)
            found.update(
                Metric.objects.filter(key__in=[m.key for m in new_rows]).values_list("key", "id")
            )
        _metric_ids.update(found)
    return {key: _metric_ids[key] for key in keys}


def resolve_host(hostname: str, *, is_local: bool = False, info: dict | None = None) -> Host:
    hostname = hostname.strip()
    if not hostname or len(hostname) > 255:
        raise IngestError("host must be a name of 1 to 255 characters")
    host, _created = Host.objects.get_or_create(hostname=hostname, defaults={"is_local": is_local})
    if not host.enabled:
        raise IngestError(f"host {hostname!r} is disabled in the admin; its samples are refused")
    updates = {}
    if info:
        for attr in ("platform", "cpu_count", "memory_total_bytes", "agent_version"):
            if info.get(attr) not in (None, "") and getattr(host, attr) != info[attr]:
                updates[attr] = info[attr]
        if info.get("boot_time"):
            boot = info["boot_time"]
            if isinstance(boot, str):
                boot = datetime.fromisoformat(boot)
            if host.boot_time != boot:
                updates["boot_time"] = boot
    if is_local and not host.is_local:
        updates["is_local"] = True
    if updates:
        Host.objects.filter(pk=host.pk).update(**updates)
        for attr, value in updates.items():
            setattr(host, attr, value)
    return host


def _validate(batch: Batch) -> list[tuple[str, float, datetime]]:
    rows = []
    now = timezone.now()
    for key, value, at in batch.samples:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise IngestError(f"value {value!r} of {key!r} is not a number") from None
        if math.isnan(number) or math.isinf(number):
            raise IngestError(f"value of {key!r} is not finite ({value!r})")
        if at.tzinfo is None:
            raise IngestError(f"time of {key!r} has no time zone; send UTC with an offset")
        if (at - now).total_seconds() > 300:
            raise IngestError(f"time {at.isoformat()} of {key!r} is more than 5 minutes ahead")
        rows.append((key, number, at.astimezone(UTC)))
    return rows


def ingest(batch: Batch, *, received_at: float | None = None) -> IngestResult:
    """Store one host's batch atomically; raise IngestError (storing nothing) if bad."""
    received_at = received_at or time.perf_counter()
    rows = _validate(batch)
    for key in {key for key, _, _ in rows}:
        catalog.parse_key(key)  # raises InvalidMetric, a ValueError, with the reason
    with transaction.atomic():
        host = resolve_host(batch.hostname, is_local=batch.is_local, info=batch.host_info)
        ids = metric_ids({key for key, _, _ in rows}, batch.units)
        sample_rows = [(at, value, host.pk, ids[key]) for key, value, at in rows]
        _insert_samples(sample_rows)
        process_time = batch.process_time or (rows[-1][2] if rows else timezone.now())
        if batch.processes:
            ProcessSample.objects.bulk_create(
                [ProcessSample(time=process_time, host_id=host.pk, **p) for p in batch.processes]
            )
        newest = max((at for _, _, at in rows), default=None)
        if newest is not None and (host.last_seen is None or newest > host.last_seen):
            Host.objects.filter(pk=host.pk).update(last_seen=newest)
            host.last_seen = newest
        latency_ms = (time.perf_counter() - received_at) * 1000

        def after_commit() -> None:
            # Only committed data reaches the cache, the browsers and the evaluator.
            latest = _update_latest(host, rows, batch.processes, process_time, latency_ms)
            if rows or batch.processes:
                _announce(host, latest, newest)

        transaction.on_commit(after_commit)
    return IngestResult(host, len(sample_rows), len(batch.processes), newest, latency_ms)


def _insert_samples(rows: list[tuple]) -> None:
    if not rows:
        return
    table = MetricSample._meta.db_table
    columns = "time, value, host_id, metric_id"
    if connection.vendor == "postgresql":
        try:
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        except (IntegrityError, connection.Database.IntegrityError):
            # COPY goes straight to psycopg, so its error is psycopg's, not Django's.
            # A resent batch (the agent never saw our answer): keep what is stored.
            logger.info("batch repeats stored samples; inserting only the new ones")
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows,
            )
        return
    # SQLite: datetimes exactly as Django writes them (UTC text, no offset, microseconds
    # only when non-zero), or text comparisons in ORM filters would go wrong.
    text_rows = [
        (str(at.replace(tzinfo=None)), value, host_id, metric_id)
        for at, value, host_id, metric_id in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO {table} ({columns}) VALUES (%s, %s, %s, %s)", text_rows
        )


def _update_latest(host, rows, processes, process_time, latency_ms) -> dict:
    key = latest_cache_key(host.pk)
    latest = cache.get(key) or {"time": None, "values": {}, "processes": []}
    newest_per_key: dict[str, tuple[float, datetime]] = {}
    for series, value, at in rows:
        current = newest_per_key.get(series)
        if current is None or at >= current[1]:
            newest_per_key[series] = (value, at)
    for series, (value, _) in newest_per_key.items():
        latest["values"][series] = value
    if newest_per_key:
        newest = max(at for _, at in newest_per_key.values())
        if latest["time"] is None or newest.isoformat() >= latest["time"]:
            latest["time"] = newest.isoformat()
    if processes:
        latest["processes"] = processes
        latest["process_time"] = process_time.isoformat()
    latest["ingest_latency_ms"] = round(latency_ms, 2)
    cache.set(key, latest, LATEST_TTL_SECONDS)
    return latest


def _announce(host: Host, latest: dict, newest: datetime | None) -> None:
    publish_now(
        f"{VITALS_GROUP}.{host.pk}",
        {
            "type": "vitals.update",
            "host_id": host.pk,
            "hostname": host.hostname,
            "time": latest.get("time"),
        },
    )
    try:
        samples_ingested.send(sender=Batch, host=host, time=newest, values=latest.get("values", {}))
    except Exception:
        # A broken receiver must not make the batch look failed: it is stored.
        logger.exception("a samples_ingested receiver failed")


def collection_to_batch(collection, *, is_local: bool = False) -> Batch:
    at = collection.time
    return Batch(
        hostname=collection.hostname,
        samples=[(key, value, at) for key, value in collection.values.items()],
        processes=[record.as_dict() for record in collection.processes],
        process_time=at,
        host_info=collection.host_info,
        is_local=is_local,
    )
