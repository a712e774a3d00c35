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
from prometheus_client.utils import floatToGoString

from metrics import catalog
from metrics.ingest import DUPLICATE_COUNTER, RESENT_COUNTER, latest_cache_key
from metrics.models import Host, MetricSample
from opsconsole.counters import counter
from opsconsole.exposition import Rendered

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
def _series_of(key: str) -> tuple[str, str, str, str, float] | None:
    """(family name, help text, the line's start up to the host's label value, the line's
    labels after it, scale) of a series key, None for a key that does not parse. Kept
    per key: a fleet's hosts share a few dozen keys, and parsing each host's copy was a
    third of a 1,000-host scrape."""
    try:
        name, labels = catalog.parse_key(key)
    except catalog.InvalidMetric:
        return None
    # The series' own labels, renamed where they would hide the host label.
    own = {
        ("exported_" + label if label == "host" else _INVALID.sub("_", label)): text
        for label, text in labels.items()
    }
    family = prometheus_name(name)
    # As prometheus_client writes them: labels sorted by name, values escaped.
    before = "".join(f'{label}="{_escape(own[label])}",' for label in sorted(own) if label < "host")
    after = "".join(f',{label}="{_escape(own[label])}"' for label in sorted(own) if label > "host")
    description = catalog.describe(name) or name
    return family, description, f'{family}{{{before}host="', after, prometheus_scale(name)


LAST_SEEN = "opsconsole_host_last_seen_timestamp_seconds"
INGEST_LATENCY = "opsconsole_host_ingest_latency_seconds"
_OWN_FAMILIES = frozenset({LAST_SEEN, INGEST_LATENCY})


def _escape(value: str) -> str:
    """A label value as the text format writes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _family_head(name: str, description: str) -> str:
    help_text = description.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


def host_series() -> Iterable[Rendered]:
    """One gauge family per metric name, one sample per host and label set, from the
    "latest" cache (no sample table read), for the hosts seen within
    ``METRICS_HOST_SERIES_MAX_AGE``; nothing when ``METRICS_HOST_SERIES`` is off.

    Written as text here (``Rendered``), as prometheus_client would write the same
    families: at 1,000 hosts x 50 series, building its objects and formatting them held
    the web process for most of a second per scrape, during which its ingest requests
    waited; the lines are a few string joins a sample."""
    if not settings.METRICS_HOST_SERIES:
        return
    hosts = list(
        Host.objects.filter(enabled=True, last_seen__gte=_reporting_since()).only(
            "id", "hostname", "last_seen"
        )
    )
    latest = cache.get_many([latest_cache_key(host.pk) for host in hosts])
    seen = [_family_head(LAST_SEEN, "When the host's newest sample was taken (Unix time).")]
    ingest = [
        _family_head(INGEST_LATENCY, "Time from receiving the host's last batch to committing it.")
    ]
    families: dict[str, list[str]] = {}
    for host in hosts:
        hostname = _escape(host.hostname)
        if host.last_seen is not None:
            seen.append(
                f'{LAST_SEEN}{{host="{hostname}"}} {floatToGoString(host.last_seen.timestamp())}\n'
            )
        entry = latest.get(latest_cache_key(host.pk)) or {}
        values = entry.get("values", {})
        if entry.get("ingest_latency_ms") is not None:
            latency = floatToGoString(entry["ingest_latency_ms"] / 1000)
            ingest.append(f'{INGEST_LATENCY}{{host="{hostname}"}} {latency}\n')
        for key, value in values.items():
            series = _series_of(key)
            if series is None:
                continue
            family, description, start, after, scale = series
            if family in _OWN_FAMILIES:
                # The console's own measure, above: a pushed series of such a name
                # (ingest_latency_ms, with labels or not) would be a second family of it.
                continue
            lines = families.get(family)
            if lines is None:
                lines = families[family] = [_family_head(family, description)]
            lines.append(f'{start}{hostname}"{after}}} {floatToGoString(value * scale)}\n')
    yield Rendered("".join(seen) + "".join(ingest))
    yield Rendered("".join("".join(families[name]) for name in sorted(families)))


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
