"""The one ingest path: collector, agent batches and pushed business metrics all land here.

``ingest()`` stores a batch atomically (on PostgreSQL one statement for a request's
samples, processes and hosts' last_seen, COPY for large requests; executemany on
SQLite), then after commit refreshes the hosts' "latest" cache entries, publishes a live
vitals event and sends ``samples_ingested`` (the evaluator's hook): at once, or at most
every ``INGEST_ANNOUNCE_SECONDS`` for all batches since (``Announcer``).

A request's cost is kept per row, not per request: tokens, hosts and metric ids are
kept per process (hosts and tokens checked against a generation, see
opsconsole.generations), and a batch the sender resends with the same ``batch_id``
is recognised by one cache read, or on PostgreSQL for a request of one batch by its
write (every sample of it stored before).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from metrics import catalog
from metrics.models import Host, Metric, MetricSample, ProcessSample
from metrics.signals import samples_ingested
from opsconsole.counters import count
from opsconsole.generations import Generation, ProcessCopies
from opsconsole.live import publish_now
from opsconsole.prepared import server_cursor
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
    # The sender's id of the batch: a resend of a stored one is recognised by it.
    batch_id: str | None = None


@dataclass
class IngestResult:
    host: Host
    samples: int
    processes: int
    newest: datetime | None
    latency_ms: float
    # The batch was already stored (its batch_id seen): nothing was written.
    resent: bool = False


# Metric ids by series key, per process, for one generation of the catalog: a metric
# deleted in the admin bumps METRICS (the sample tables have no constraint to refuse
# its old id on PostgreSQL, see migration 0006).
METRICS = Generation("metrics")
_metric_ids = ProcessCopies(METRICS)
# Hosts by name, per process: enabled, details and last_seen as this process last wrote
# them. Disabling or editing a host anywhere bumps HOSTS (see ``host_changed``).
HOSTS = Generation("hosts")
_hosts = ProcessCopies(HOSTS)
# On PostgreSQL a request of up to this many samples is one INSERT of arrays (one round
# trip, duplicates skipped); larger ones (an agent catching up) go through COPY.
UNNEST_MAX_ROWS = 2000
RESENT_COUNTER = "ingest:resent-batches"
DUPLICATE_COUNTER = "ingest:duplicate-samples"


def host_changed(*args, **kwargs) -> None:
    """A host was saved, deleted or updated in bulk: every process reads hosts again
    (at once, and after commit for a process that read the row before it)."""
    HOSTS.bump()
    transaction.on_commit(HOSTS.bump)


def metric_deleted(*args, **kwargs) -> None:
    """A series left the catalog: every process reads metric ids again."""
    METRICS.bump()
    transaction.on_commit(METRICS.bump)


def latest_cache_key(host_id: int) -> str:
    return f"latest:{host_id}"


def get_latest(host: Host) -> dict:
    """``{"time": iso, "values": {key: value}, "processes": [...]}`` for one host."""
    return cache.get(latest_cache_key(host.pk)) or {"time": None, "values": {}, "processes": []}


def metric_ids(keys: set[str], units: dict[str, str] | None = None) -> dict[str, int]:
    """Ids for series keys, creating catalog rows for new ones (race-safe)."""
    known = _metric_ids.fresh()
    missing = [key for key in keys if key not in known]
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
            # Kept once committed: a rolled-back row's id must not outlive it.
            transaction.on_commit(lambda: known.update(found))
        else:
            known.update(found)
        return {key: known.get(key) or found[key] for key in keys}
    return {key: known[key] for key in keys}


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
    copies = _hosts.fresh()
    found = {name: copies[name] for name in names if name in copies}
    unread = names - found.keys()
    if not unread:
        return found
    read = {host.hostname: host for host in Host.objects.filter(hostname__in=unread)}
    missing = unread - read.keys()
    if missing:
        # Another process may create the same hosts at the same time.
        Host.objects.bulk_create([Host(hostname=name) for name in missing], ignore_conflicts=True)
        read.update((host.hostname, host) for host in Host.objects.filter(hostname__in=missing))
    # Kept once committed: a host created by a request that fails is not kept.
    transaction.on_commit(lambda: copies.update(read))
    found.update(read)
    return found


def _all_known(batches: list[Batch], keys: set[str]) -> bool:
    """Whether every host and series of a request is in this process's copies and no
    batch brings host details: then its write needs no lookup and no transaction."""
    copies = _hosts.fresh()
    return (
        all(batch.hostname.strip() in copies and not batch.host_info for batch in batches)
        and keys <= _metric_ids.fresh().keys()
    )


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
    what its rows cost. Batches whose ``batch_id`` was stored before are left out and
    answered as stored (``IngestResult.resent``).
    """
    received_at = received_at or time.perf_counter()
    if _resend_told_by_write(batches):
        resent: list[Batch] = []
    else:
        batches, resent = _leave_out_resent(batches)
    _mask_command_lines(batches)
    validated = [(batch, _validate(batch)) for batch in batches]
    keys: set[str] = set().union(*(checked.keys for _, checked in validated))
    for key in keys - _metric_ids.fresh().keys():
        catalog.parse_key(key)  # raises InvalidMetric, a ValueError, with the reason
    results: list[IngestResult] = []
    if validated:
        try:
            results = _store_once(validated, keys, received_at)
        except IntegrityError:
            # A host or series this process kept was deleted by another one whose
            # change it has not looked at yet: read them all again, once.
            _hosts.clear()
            _metric_ids.clear()
            results = _store_once(validated, keys, received_at)
    return results + [_resent_result(batch) for batch in resent]


def _resend_told_by_write(batches: list[Batch]) -> bool:
    """Whether this request's write itself tells a resend, with no cache read first:
    one batch with an id and samples, written by the array statement (PostgreSQL). A
    resent batch's samples are all in the table already, so the statement stores none
    of them, and it writes the batch's processes only if it stored a sample; such a
    batch is then answered as a resend. An agent's steady stream is all such requests:
    the cache read was the one round trip of a batch besides its write. A request of
    several batches (an agent catching up) is looked up in the cache as before."""
    return (
        connection.vendor == "postgresql"
        and len(batches) == 1
        and bool(batches[0].batch_id)
        and 0 < len(batches[0].samples) <= UNNEST_MAX_ROWS
    )


def _store_once(validated, keys: set[str], received_at: float) -> list[IngestResult]:
    total = sum(len(checked.rows) for _, checked in validated)
    if (
        connection.vendor == "postgresql"
        and total <= UNNEST_MAX_ROWS
        and not connection.in_atomic_block
        and _all_known([batch for batch, _ in validated], keys)
    ):
        # One statement, atomic by itself: no BEGIN, no COMMIT round trip.
        return _store(validated, received_at)
    with transaction.atomic():
        return _store(validated, received_at)


def _batch_key(batch: Batch) -> str:
    return f"ingest:batch:{batch.hostname.strip()}:{batch.batch_id}"


def _leave_out_resent(batches: list[Batch]) -> tuple[list[Batch], list[Batch]]:
    """(batches to store, batches stored before): one cache read for a request."""
    with_id = [batch for batch in batches if batch.batch_id]
    if not with_id:
        return batches, []
    seen = cache.get_many([_batch_key(batch) for batch in with_id])
    if not seen:
        return batches, []
    fresh = [b for b in batches if not b.batch_id or _batch_key(b) not in seen]
    resent = [b for b in batches if b.batch_id and _batch_key(b) in seen]
    count(RESENT_COUNTER, len(resent))
    logger.info("%s resent batches were stored before; answered as stored", len(resent))
    return fresh, resent


def _resent_result(batch: Batch) -> IngestResult:
    host = _hosts.fresh().get(batch.hostname.strip()) or Host(hostname=batch.hostname.strip())
    return IngestResult(host, 0, 0, None, 0.0, resent=True)


def _store(validated: list[tuple[Batch, _Checked]], received_at: float) -> list[IngestResult]:
    results: list[IngestResult] = []
    # host id -> [host, rows, processes, process_time, newest]
    touched: dict[int, list] = {}
    sample_rows: list[tuple] = []
    process_rows: list[tuple] = []
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
        process_rows.extend((process_time, host_id, p) for p in batch.processes)
        newest = checked.newest
        entry = touched.setdefault(host.pk, [host, [], [], None, None])
        entry[1].extend(rows)
        if batch.processes and (entry[3] is None or process_time >= entry[3]):
            entry[2], entry[3] = batch.processes, process_time
        if newest is not None and (entry[4] is None or newest > entry[4]):
            entry[4] = newest
        results.append(IngestResult(host, len(rows), len(batch.processes), newest, 0.0))
    seen = {
        host.pk: newest
        for host, _rows, _processes, _time, newest in touched.values()
        if newest is not None and (host.last_seen is None or newest > host.last_seen)
    }
    told_by_write = _resend_told_by_write([batch for batch, _ in validated])
    stored = _write(sample_rows, process_rows, seen, list(touched), resend=told_by_write)
    if told_by_write and stored == 0:
        # Every sample of it was stored before: a resend (the sender never saw our
        # answer). Nothing was written; nothing is announced.
        count(RESENT_COUNTER, 1)
        logger.info("a resent batch was stored before; answered as stored")
        for result in results:
            result.samples, result.processes, result.resent = 0, 0, True
        return results
    for host, *_rest, newest in touched.values():
        if host.pk in seen:
            host.last_seen = newest
    latency_ms = (time.perf_counter() - received_at) * 1000
    for result in results:
        result.latency_ms = latency_ms
    stored_ids = {
        _batch_key(batch): 1 for batch, _checked in validated if batch.batch_id is not None
    }

    def after_commit() -> None:
        # Only committed data reaches the cache, the browsers and the evaluator.
        announcer.add(
            [
                (host, rows, processes, process_time, newest, latency_ms)
                for host, rows, processes, process_time, newest in touched.values()
            ],
            stored_ids,
        )

    transaction.on_commit(after_commit)
    return results


def _write(
    sample_rows: list[tuple],
    process_rows: list[tuple],
    seen: dict[int, datetime],
    host_ids: list[int],
    *,
    resend: bool = False,
) -> int | None:
    """Samples, processes and hosts' last_seen (only ever moved forward); ``host_ids``:
    every host the rows are for. The samples stored (None where not counted); with
    ``resend``, none stored is a resend, not counted as duplicates."""
    if connection.vendor == "postgresql" and len(sample_rows) <= UNNEST_MAX_ROWS:
        return _write_arrays(sample_rows, process_rows, seen, host_ids, resend=resend)
    if connection.vendor == "postgresql":
        _lock_hosts(host_ids)
    _insert_samples(sample_rows)
    if process_rows:
        ProcessSample.objects.bulk_create(
            [ProcessSample(time=at, host_id=host_id, **p) for at, host_id, p in process_rows]
        )
    for host_id, newest in seen.items():
        Host.objects.filter(Q(last_seen__isnull=True) | Q(last_seen__lt=newest), pk=host_id).update(
            last_seen=newest
        )
    return None


_PROCESS_COLUMNS = (
    ("pid", "int4"),
    ("name", "text"),
    ("username", "text"),
    ("status", "text"),
    ("cpu_percent", "float8"),
    ("memory_percent", "float8"),
    ("rss_bytes", "int8"),
    ("num_threads", "int4"),
    ("read_bytes_per_second", "float8"),
    ("write_bytes_per_second", "float8"),
    ("cmdline", "text"),
)
_PROCESS_DEFAULTS = {"username": "", "status": "", "cmdline": ""}


class HostVanished(IntegrityError):
    """A host this process kept was deleted meanwhile: nothing of the request was
    written (read the hosts again and store it anew)."""


def _lock_hosts(host_ids: list[int]) -> None:
    """PostgreSQL, in the request's transaction: the hosts' rows held against deletion
    until commit (what a foreign key's check would hold), HostVanished if one is gone."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Host._meta.db_table} WHERE id = ANY(%s::text::int4[]) FOR KEY SHARE",
            [_array_literal(host_ids)],
        )
        if len(cursor.fetchall()) < len(set(host_ids)):
            raise HostVanished("a host of this request was deleted while it was stored")


def _array_literal(values) -> str:
    """A PostgreSQL array literal of numbers (ids, values), cast by the statement.

    psycopg adapts a list element by element (about 4 µs each, 0.2 ms for a batch's
    four columns); the text is built in a few µs. ``str`` of a float is its ``repr``,
    exact and round-tripping. (Times: ``_times_literal``.)
    """
    return "{" + ",".join(map(str, values)) + "}"


def _times_literal(times) -> str:
    # A batch's rows share a handful of datetime objects: each is formatted once.
    text: dict[int, str] = {}
    parts = []
    for at in times:
        found = text.get(id(at))
        if found is None:
            found = text[id(at)] = at.isoformat()
        parts.append(found)
    return "{" + ",".join(parts) + "}"


def _write_arrays(
    sample_rows: list[tuple],
    process_rows: list[tuple],
    seen: dict,
    host_ids: list[int],
    *,
    resend: bool = False,
) -> int:
    """PostgreSQL: a request's rows as arrays in one statement (data-modifying CTEs),
    so a 50-sample batch is one round trip, and a resent batch's samples are skipped by
    the primary key (ON CONFLICT DO NOTHING) instead of failing the write.

    The sample tables have no foreign keys (migration 0006); the statement guards the
    hosts itself: ``h`` moves every host's last_seen forward (a no-op value for one
    already newer) and so locks its row until commit, and the rows are written only if
    ``h`` found every host. One that was deleted meanwhile (this process had not yet
    looked at the hosts' generation) writes nothing and raises HostVanished. Process
    rows are written only if a sample was new or the request has none: a repeat of
    stored samples brings no new processes either. Returns the samples stored.
    """
    samples = MetricSample._meta.db_table
    newest = (
        "{"
        + ",".join(seen[host_id].isoformat() if host_id in seen else "NULL" for host_id in host_ids)
        + "}"
    )
    parts = [
        f"h AS (UPDATE {Host._meta.db_table} AS h "
        "SET last_seen = GREATEST(h.last_seen, v.newest) "
        "FROM unnest(%s::text::int4[], %s::text::timestamptz[]) AS v(id, newest) "
        "WHERE h.id = v.id RETURNING 1)",
        "every_host AS (SELECT count(*) = %s AS ok FROM h)",
        f"s AS (INSERT INTO {samples} (time, value, host_id, metric_id) "
        "SELECT u.* FROM unnest(%s::text::timestamptz[], %s::text::float8[], "
        "%s::text::int4[], %s::text::int4[]) AS u, every_host WHERE every_host.ok "
        "ON CONFLICT DO NOTHING RETURNING 1)",
    ]
    params: list = [_array_literal(host_ids), newest, len(host_ids)]
    if sample_rows:
        times, values, hosts, metrics = zip(*sample_rows, strict=True)
        params += [
            _times_literal(times),
            _array_literal(values),
            _array_literal(hosts),
            _array_literal(metrics),
        ]
    else:
        params += ["{}", "{}", "{}", "{}"]
    if process_rows:
        names = ", ".join(name for name, _ in _PROCESS_COLUMNS)
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in _PROCESS_COLUMNS)
        parts.append(
            f"p AS (INSERT INTO {ProcessSample._meta.db_table} (time, host_id, {names}) "
            f"SELECT u.* FROM unnest(%s::timestamptz[], %s::int4[], {arrays}) AS u, "
            "every_host WHERE every_host.ok AND ((SELECT count(*) FROM s) > 0 OR %s = 0) "
            "RETURNING 1)"
        )
        params.append([at for at, _, _ in process_rows])
        params.append([host_id for _, host_id, _ in process_rows])
        for name, _kind in _PROCESS_COLUMNS:
            default = _PROCESS_DEFAULTS.get(name)
            params.append([p.get(name, default) for _, _, p in process_rows])
        params.append(len(sample_rows))
    sql = f"WITH {', '.join(parts)} SELECT (SELECT ok FROM every_host), (SELECT count(*) FROM s)"
    # Prepared (one text per shape: with or without process rows), so each connection
    # plans it once: planning the four statements was a third of the write's time.
    with server_cursor(connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        every_host, stored = cursor.fetchone()
    if not every_host:
        raise HostVanished("a host of this request was deleted while it was stored")
    if stored < len(sample_rows) and not (resend and stored == 0):
        count(DUPLICATE_COUNTER, len(sample_rows) - stored)
        logger.info(
            "batch repeats %s stored samples; kept the stored ones", len(sample_rows) - stored
        )
    return stored


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
            # A resent batch (the agent never saw our answer): keep what is stored,
            # skipping the stored rows in one statement.
            pass
        for start in range(0, len(rows), UNNEST_MAX_ROWS):
            chunk = rows[start : start + UNNEST_MAX_ROWS]
            _write_arrays(chunk, [], {}, sorted({row[2] for row in chunk}))
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
        stored = cursor.rowcount
    if 0 <= stored < len(rows):
        count(DUPLICATE_COUNTER, len(rows) - stored)


def _update_latest(latest, rows, processes, process_time, latency_ms) -> dict:
    latest = latest or {"time": None, "values": {}, "processes": []}
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
    if processes and (
        latest.get("process_time") is None or process_time.isoformat() >= latest["process_time"]
    ):
        latest["processes"] = processes
        latest["process_time"] = process_time.isoformat()
    latest["ingest_latency_ms"] = round(latency_ms, 2)
    return latest


class Announcer:
    """What follows a commit: the hosts' latest values in the cache, one live event,
    ``samples_ingested`` per host (the evaluator's wake-up, the latency monitor, the
    Redis keys). With ``INGEST_ANNOUNCE_SECONDS`` at 0 it runs in the committing
    request; otherwise a thread of each process runs it at most that often for every
    batch since, so a fleet's requests do not each pay a cache round trip, a channel
    layer send and the receivers (they were most of a 50-sample request's time)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Nothing pending and a new lock: a forked child starts so (its parent's lock
        may have been held by a thread the child does not have)."""
        self.pid: int | None = None
        self.lock = threading.Lock()
        self.pending: dict[int, list] = {}
        # Ids of stored batches, remembered with the rest: a resend within the interval
        # is skipped by the primary key instead (ON CONFLICT), as one without an id.
        self.batch_ids: dict[str, int] = {}

    def add(self, touched: list[tuple], batch_ids: dict[str, int] | None = None) -> None:
        if not touched and not batch_ids:
            return
        if settings.INGEST_ANNOUNCE_SECONDS <= 0:
            self._announce(touched, batch_ids or {})
            return
        with self.lock:
            if self.pid != os.getpid():
                # A process that exits drops what is pending (at most one interval):
                # the samples are stored; the next batch or pass brings the rest.
                self.pid, self.pending, self.batch_ids = os.getpid(), {}, {}
                threading.Thread(target=self._run, name="ingest-announce", daemon=True).start()
            self.batch_ids.update(batch_ids or {})
            for host, rows, processes, process_time, newest, latency_ms in touched:
                entry = self.pending.get(host.pk)
                if entry is None:
                    self.pending[host.pk] = [
                        host,
                        list(rows),
                        processes,
                        process_time,
                        newest,
                        latency_ms,
                    ]
                    continue
                entry[1].extend(rows)
                if processes and (entry[3] is None or process_time >= entry[3]):
                    entry[2], entry[3] = processes, process_time
                if newest is not None and (entry[4] is None or newest > entry[4]):
                    entry[4] = newest
                entry[5] = latency_ms

    def _run(self) -> None:
        while True:
            interval = settings.INGEST_ANNOUNCE_SECONDS
            if interval <= 0:  # switched off meanwhile: the next add runs at once
                with self.lock:
                    self.pid = None
                self.flush()
                return
            time.sleep(interval)
            try:
                self.flush()
            except Exception:  # this thread must outlive any failure
                logger.exception("announcing ingested batches failed")
            finally:
                # The receivers may have used the database: give the connection back.
                connections.close_all()

    def flush(self) -> None:
        """Announce everything pending now (the thread calls it; so do exit and tests)."""
        with self.lock:
            pending, self.pending = list(self.pending.values()), {}
            batch_ids, self.batch_ids = self.batch_ids, {}
        if pending or batch_ids:
            self._announce([tuple(entry) for entry in pending], batch_ids)

    def _announce(self, touched: list[tuple], batch_ids: dict[str, int]) -> None:
        if batch_ids:
            cache.set_many(batch_ids, settings.INGEST_BATCH_ID_TTL)
        if not touched:
            return
        keys = [latest_cache_key(host.pk) for host, *_ in touched]
        cached = cache.get_many(keys)
        fresh = {}
        announced = []
        for key, (host, rows, processes, process_time, newest, latency_ms) in zip(
            keys, touched, strict=True
        ):
            latest = _update_latest(cached.get(key), rows, processes, process_time, latency_ms)
            fresh[key] = latest
            if rows or processes:
                announced.append((host, latest, newest))
        cache.set_many(fresh, LATEST_TTL_SECONDS)
        _announce(announced)


announcer = Announcer()
os.register_at_fork(after_in_child=announcer.reset)


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
