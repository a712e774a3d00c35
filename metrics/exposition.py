"""The metrics app's series on ``/metrics``: every host's latest values, ingest rate."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from metrics import catalog
from metrics.ingest import DUPLICATE_COUNTER, RESENT_COUNTER, latest_cache_key
from metrics.models import Host, MetricSample
from opsconsole.counters import counter

PREFIX = "opsconsole_host_"
INGEST_WINDOW = timedelta(minutes=1)
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")


def prometheus_name(name: str) -> str:
    """A stored metric name as a Prometheus one, in Prometheus' conventions (what
    ``promtool check metrics`` asks): pushed names may hold dots; milliseconds become
    seconds (``collector_duration_ms`` -> ``opsconsole_host_collector_duration_seconds``,
    the value divided by 1000, see ``prometheus_scale``); a gauge ending in ``_count``,
    a suffix Prometheus keeps for histograms and summaries, is named by its plural
    (``process_count`` -> ``opsconsole_host_processes``)."""
    clean = _INVALID.sub("_", name)
    if clean.endswith("_ms"):
        clean = clean[: -len("_ms")] + "_seconds"
    elif clean.endswith("_count") and len(clean) > len("_count"):
        base = clean[: -len("_count")]
        clean = base + ("es" if base.endswith(("s", "x", "ch", "sh")) else "s")
    return PREFIX + clean


def prometheus_scale(name: str) -> float:
    """What a stored value is multiplied by on ``/metrics``: milliseconds to seconds."""
    return 0.001 if _INVALID.sub("_", name).endswith("_ms") else 1.0


@functools.lru_cache(maxsize=20_000)
def _series_of(key: str) -> tuple[str, str, dict[str, str], float] | None:
    """(family name, help text, the series' own labels, scale) of a series key, None
    for a key that does not parse. Kept per key: a fleet's hosts share a few dozen keys,
    and parsing each host's copy was a third of a 1,000-host scrape. (Callers copy the
    labels; the dict is never changed.)"""
    try:
        name, labels = catalog.parse_key(key)
    except catalog.InvalidMetric:
        return None
    # The series' own labels, renamed where they would hide the host label.
    sample_labels = {
        ("exported_" + label if label == "host" else _INVALID.sub("_", label)): text
        for label, text in labels.items()
    }
    description = catalog.describe(name) or name
    return prometheus_name(name), description, sample_labels, prometheus_scale(name)


def host_series() -> Iterable[Metric]:
    """One gauge family per metric name, one sample per host and label set, from the
    "latest" cache (no sample table read), for the hosts seen within
    ``METRICS_HOST_SERIES_MAX_AGE``; nothing when ``METRICS_HOST_SERIES`` is off."""
    if not settings.METRICS_HOST_SERIES:
        return
    hosts = list(
        Host.objects.filter(enabled=True, last_seen__gte=_reporting_since()).only(
            "id", "hostname", "last_seen"
        )
    )
    latest = cache.get_many([latest_cache_key(host.pk) for host in hosts])
    families: dict[str, Metric] = {}
    seen = GaugeMetricFamily(
        "opsconsole_host_last_seen_timestamp_seconds",
        "When the host's newest sample was taken (Unix time).",
        labels=["host"],
    )
    ingest = GaugeMetricFamily(
        "opsconsole_host_ingest_latency_seconds",
        "Time from receiving the host's last batch to committing it.",
        labels=["host"],
    )
    for host in hosts:
        if host.last_seen is not None:
            seen.add_metric([host.hostname], host.last_seen.timestamp())
        entry = latest.get(latest_cache_key(host.pk)) or {}
        if entry.get("ingest_latency_ms") is not None:
            ingest.add_metric([host.hostname], entry["ingest_latency_ms"] / 1000)
        values = dict(entry.get("values", {}))
        # (Kept apart above: a host that pushes a series of this name too is exported
        # once, from the console's own measure.)
        values.pop("ingest_latency_ms", None)
        for key, value in values.items():
            series = _series_of(key)
            if series is None:
                continue
            family_name, description, sample_labels, scale = series
            family = families.get(family_name)
            if family is None:
                family = Metric(family_name, description, "gauge")
                families[family_name] = family
            family.add_sample(family_name, {"host": host.hostname, **sample_labels}, value * scale)
    yield seen
    yield ingest
    yield from (families[name] for name in sorted(families))


def ingest_series() -> Iterable[Metric]:
    since = timezone.now() - INGEST_WINDOW
    # Served by the time index of metrics_metricsample (BRIN on PostgreSQL, see 0002).
    recent = MetricSample.objects.filter(time__gte=since).count()
    rate = GaugeMetricFamily(
        "opsconsole_ingest_samples_per_second",
        "Samples stored per second over the last minute, by sample time.",
    )
    rate.add_metric([], recent / INGEST_WINDOW.total_seconds())
    hosts = GaugeMetricFamily("opsconsole_hosts", "Hosts known, by state.", labels=["state"])
    hosts.add_metric(["enabled"], Host.objects.filter(enabled=True).count())
    hosts.add_metric(["disabled"], Host.objects.filter(enabled=False).count())
    reporting = GaugeMetricFamily(
        "opsconsole_hosts_reporting",
        "Enabled hosts seen within METRICS_HOST_SERIES_MAX_AGE (those with per-host series).",
    )
    reporting.add_metric(
        [], Host.objects.filter(enabled=True, last_seen__gte=_reporting_since()).count()
    )
    resent = CounterMetricFamily(
        "opsconsole_ingest_resent_batches",
        "Batches sent again with a batch_id already stored: answered as stored, not written.",
    )
    resent.add_metric([], counter(RESENT_COUNTER))
    duplicates = CounterMetricFamily(
        "opsconsole_ingest_duplicate_samples",
        "Samples of a batch without batch_id that were stored already: skipped on write.",
    )
    duplicates.add_metric([], counter(DUPLICATE_COUNTER))
    yield rate
    yield hosts
    yield reporting
    yield resent
    yield duplicates


def _reporting_since():
    return timezone.now() - timedelta(seconds=settings.METRICS_HOST_SERIES_MAX_AGE)
