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
from opsconsole.scrubbing import Scrubber, secret_values

logger = logging.getLogger(__name__)

# The layer group of every host's live vitals; an event names the hosts it is about.
VITALS_GROUP = "vitals"
LATEST_TTL_SECONDS = 7 * 24 * 3600
CMDLINE_CHARS = ProcessSample._meta.get_field("cmdline").max_length


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


# Process-local id cache: a metric key maps to the same id forever.
_metric_ids: dict[str, int] = {}


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


def _hostname(text: str) -> str:
    hostname = text.strip()
    if not hostname or len(hostname) > 255:
        raise IngestError("host must be a name of 1 to 255 characters")
    return hostname


def resolve_hosts(hostnames) -> dict[str, Host]:
    """The hosts of a request by name, created where new: two queries however many.

    A request from an agent catching up, or from a service pushing for a fleet, names
    tens of hosts; one ``get_or_create`` each was a tenth of its ingest time.
    """
    names = {_hostname(name) for name in hostnames}
    found = {host.hostname: host for host in Host.objects.filter(hostname__in=names)}
    missing = names - found.keys()
    if missing:
        # Another process may create the same hosts at the same time.
        Host.objects.bulk_create([Host(hostname=name) for name in missing], ignore_conflicts=True)
        found.update((host.hostname, host) for host in Host.objects.filter(hostname__in=missing))
    return found


def resolve_host(
    hostname: str, *, is_local: bool = False, info: dict | None = None, host: Host | None = None
) -> Host:
    """The host named ``hostname`` (``host`` if already read), created if new, with the
    details in ``info`` stored; IngestError if it is disabled."""
    hostname = _hostname(hostname)
    if host is None:
        host, _created = Host.objects.get_or_create(
            hostname=hostname, defaults={"is_local": is_local}
        )
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


@dataclass
class _Checked:
    """A batch's samples as stored: (key, value, UTC time) rows, their distinct series
    keys and their newest time, found in the one pass that checks them."""

    rows: list[tuple[str, float, datetime]]
    keys: set[str]
    newest: datetime | None


def _validate(batch: Batch) -> _Checked:
    rows = []
    keys: set[str] = set()
    newest = None
    now = timezone.now()
    # A batch repeats a few timestamps across many samples: check and convert each once.
    # Consecutive samples usually share one datetime object, and hashing an aware
    # datetime asks its zone for the offset: the identity check spares that.
    utc_of: dict[datetime, datetime] = {}
    last_at = utc = None
    for key, value, at in batch.samples:
        try:
            number = value if type(value) is float else float(value)
        except (TypeError, ValueError):
            raise IngestError(f"value {value!r} of {key!r} is not a number") from None
        if not math.isfinite(number):
            raise IngestError(f"value of {key!r} is not finite ({value!r})")
        if at is not last_at:
            utc = utc_of.get(at)
            if utc is None:
                if at.tzinfo is None:
                    raise IngestError(f"time of {key!r} has no time zone; send UTC with an offset")
                if (at - now).total_seconds() > 300:
                    raise IngestError(
                        f"time {at.isoformat()} of {key!r} is more than 5 minutes ahead"
                    )
                utc = utc_of[at] = at.astimezone(UTC)
                if newest is None or utc > newest:
                    newest = utc
            last_at = at
        assert utc is not None  # set by the first sample, whose time is never last_at (None)
        rows.append((key, number, utc))
        keys.add(key)
    return _Checked(rows, keys, newest)


def _mask_command_lines(batches: list[Batch]) -> None:
    """Secret arguments out of every process's command line before it is stored or
    cached: viewers read them on the System Monitor and in /api/v1/metrics/processes,
    and an older agent, or any other client of the API, sends them as they are."""
    scrubber = None
    for batch in batches:
        for process in batch.processes:
            cmdline = process.get("cmdline")
            if cmdline:
                scrubber = scrubber or Scrubber(secret_values())
                process["cmdline"] = scrubber.command_line(cmdline)[:CMDLINE_CHARS]


def ingest(batch: Batch, *, received_at: float | None = None) -> IngestResult:
    """Store one host's batch atomically; raise IngestError (storing nothing) if bad."""
    return ingest_many([batch], received_at=received_at)[0]


def ingest_many(batches: list[Batch], *, received_at: float | None = None) -> list[IngestResult]:
    """Store several batches in one transaction: all of them, or (IngestError) none.

    Their samples go to the database in one bulk write, and each host's latest values,
    live event and evaluator signal happen once after commit however many of its
    batches came (an agent catching up sends hundreds), so a large request costs about
    what its rows cost.
    """
    received_at = received_at or time.perf_counter()
    _mask_command_lines(batches)
    validated = [(batch, _validate(batch)) for batch in batches]
    for key in set().union(*(checked.keys for _, checked in validated)):
        catalog.parse_key(key)  # raises InvalidMetric, a ValueError, with the reason
    results: list[IngestResult] = []
    # host id -> [host, rows, processes, process_time, newest]
    touched: dict[int, list] = {}
    with transaction.atomic():
        sample_rows: list[tuple] = []
        known = resolve_hosts(batch.hostname for batch, _ in validated)
        hosts: dict[tuple[str, bool], Host] = {}
        for batch, checked in validated:
            rows = checked.rows
            # Checked once per host per call, and again when a batch brings details.
            host = hosts.get((batch.hostname, batch.is_local))
            if host is None or batch.host_info:
                host = resolve_host(
                    batch.hostname,
                    is_local=batch.is_local,
                    info=batch.host_info,
                    host=known[_hostname(batch.hostname)],
                )
                hosts[(batch.hostname, batch.is_local)] = host
            ids = metric_ids(checked.keys, batch.units)
            host_id = host.pk
            sample_rows.extend((at, value, host_id, ids[key]) for key, value, at in rows)
            process_time = batch.process_time or (rows[-1][2] if rows else timezone.now())
            if batch.processes:
                ProcessSample.objects.bulk_create(
                    [
                        ProcessSample(time=process_time, host_id=host.pk, **p)
                        for p in batch.processes
                    ]
                )
            newest = checked.newest
            entry = touched.setdefault(host.pk, [host, [], [], None, None])
            entry[1].extend(rows)
            if batch.processes and (entry[3] is None or process_time >= entry[3]):
                entry[2], entry[3] = batch.processes, process_time
            if newest is not None and (entry[4] is None or newest > entry[4]):
                entry[4] = newest
            results.append(IngestResult(host, len(rows), len(batch.processes), newest, 0.0))
        _insert_samples(sample_rows)
        for host, _rows, _processes, _process_time, newest in touched.values():
            if newest is not None and (host.last_seen is None or newest > host.last_seen):
                Host.objects.filter(pk=host.pk).update(last_seen=newest)
                host.last_seen = newest
        latency_ms = (time.perf_counter() - received_at) * 1000
        for result in results:
            result.latency_ms = latency_ms

        def after_commit() -> None:
            # Only committed data reaches the cache, the browsers and the evaluator.
            announced = []
            for host, rows, processes, process_time, newest in touched.values():
                latest = _update_latest(host, rows, processes, process_time, latency_ms)
                if rows or processes:
                    announced.append((host, latest, newest))
            _announce(announced)

        transaction.on_commit(after_commit)
    return results


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
        # Database: the driver module, on every backend; django-stubs does not declare it.
        except (IntegrityError, connection.Database.IntegrityError):  # type: ignore[attr-defined]
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
    text_of: dict[datetime, str] = {}
    text_rows = []
    last_at = text = None
    for at, value, host_id, metric_id in rows:
        if at is not last_at:  # rows of one batch share their datetime object
            text = text_of.get(at)
            if text is None:
                text = text_of[at] = str(at.replace(tzinfo=None))
            last_at = at
        text_rows.append((text, value, host_id, metric_id))
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
    newest = max((at for _, at in newest_per_key.values()), default=None)
    # An older batch (an agent's backlog arriving after fresher data) fills gaps only;
    # it never replaces a newer latest value.
    backfill = (
        newest is not None and latest["time"] is not None and (newest.isoformat() < latest["time"])
    )
    for series, (value, _) in newest_per_key.items():
        if not backfill or series not in latest["values"]:
            latest["values"][series] = value
    if newest is not None and not backfill:
        latest["time"] = newest.isoformat()
    if processes:
        latest["processes"] = processes
        latest["process_time"] = process_time.isoformat()
    latest["ingest_latency_ms"] = round(latency_ms, 2)
    cache.set(key, latest, LATEST_TTL_SECONDS)
    return latest


def _announce(announced: list[tuple[Host, dict, datetime | None]]) -> None:
    if announced:
        # One event for every host of the call: an agent catching up or a service
        # pushing for a fleet names tens of hosts, and each layer send costs about a
        # millisecond (a query and a thread hop on the embedded layer). Each web process
        # hands it to the pages watching those hosts.
        publish_now(
            VITALS_GROUP,
            {
                "type": "vitals.update",
                "hosts": {str(host.pk): latest.get("time") for host, latest, _ in announced},
            },
        )
    for host, latest, newest in announced:
        try:
            samples_ingested.send(
                sender=Batch,
                host=host,
                time=newest,
                values=latest.get("values", {}),
                latency_ms=latest.get("ingest_latency_ms"),
            )
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
