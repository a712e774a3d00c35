"""``GET /metrics``: the console's state in Prometheus' text format.

Each app registers the series it owns from its ``AppConfig.ready``::

    from opsconsole.exposition import register_series

    def alert_series():
        family = GaugeMetricFamily("opsconsole_alerts", "...", labels=["status"])
        ...
        yield family

    register_series("alerts", alert_series)

The functions run at scrape time, in the web process, and read the shared state (the
database and the cache) that the workers write: a counter kept in one process's memory
would show only that process. A section that fails is left out of the scrape and
counted in ``opsconsole_scrape_errors``; the rest is still served.

A section with tens of thousands of samples (a fleet's per-host series) may yield
``Rendered`` text, whole families it wrote in the text format itself, instead of
families: prometheus_client's formatting costs about 7 µs a sample, and a scrape that
holds the web process's interpreter for a second slows every request it serves.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """Whole metric families already in Prometheus' text format (``# HELP``, ``# TYPE``
    and their sample lines, each ending in a newline), as a section writes them."""

    text: str


SeriesFunction = Callable[[], Iterable[Metric | Rendered]]
_sections: dict[str, SeriesFunction] = {}


def register_series(name: str, function: SeriesFunction) -> None:
    """Add (or replace) a section of ``/metrics``; ``function`` yields metric families."""
    _sections[name] = function


def registered_series() -> dict[str, SeriesFunction]:
    return dict(_sections)


class ConsoleCollector(Collector):
    """Every section's families; what a section yields as ``Rendered`` is kept in
    ``rendered`` for ``render`` to append, in the order the sections ran."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def collect(self) -> Iterable[Metric]:
        errors = GaugeMetricFamily(
            "opsconsole_scrape_errors",
            "Sections of /metrics that failed in this scrape (1) or not (0).",
            labels=["section"],
        )
        duration = GaugeMetricFamily(
            "opsconsole_scrape_section_duration_seconds",
            "Time each section of /metrics took in this scrape.",
            labels=["section"],
        )
        for name, function in sorted(_sections.items()):
            started = time.perf_counter()
            try:
                # Materialised here so a failure halfway leaves out the whole section.
                families = list(function())
            except Exception:
                logger.exception("the %s section of /metrics failed", name)
                families = []
                errors.add_metric([name], 1)
            else:
                errors.add_metric([name], 0)
            duration.add_metric([name], time.perf_counter() - started)
            for family in families:
                if isinstance(family, Rendered):
                    self.rendered.append(family.text)
                else:
                    yield family
        yield errors
        yield duration


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    collector = ConsoleCollector()
    registry.register(collector)
    families = generate_latest(registry)
    return families + "".join(collector.rendered).encode()


def _authorised(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), expected)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        response = HttpResponse(
            "401: /metrics needs Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


# -- the console's own sections -------------------------------------------------------------
def job_series() -> Iterable[Metric]:
    """Durations and outcomes of the q2 jobs (evaluation, collection, roll-ups...).

    The job's name is the label ``task``: Prometheus sets ``job`` to the scrape job's
    name and renames a series' own ``job`` to ``exported_job``, so a panel asking for
    ``job`` never found these series."""
    from opsconsole import joblog

    last = GaugeMetricFamily(
        "opsconsole_job_last_duration_seconds", "Duration of the job's last run.", labels=["task"]
    )
    seconds = CounterMetricFamily(
        "opsconsole_job_duration_seconds", "Time spent in the job, all runs.", labels=["task"]
    )
    runs = CounterMetricFamily("opsconsole_job_runs", "Runs of the job.", labels=["task"])
    failures = CounterMetricFamily(
        "opsconsole_job_failures", "Runs of the job that raised.", labels=["task"]
    )
    finished = GaugeMetricFamily(
        "opsconsole_job_last_run_timestamp_seconds",
        "When the job last finished (Unix time).",
        labels=["task"],
    )
    for name, stats in sorted(joblog.stats().items()):
        last.add_metric([name], stats.get("last_seconds", 0.0))
        seconds.add_metric([name], stats.get("seconds_total", 0.0))
        runs.add_metric([name], stats.get("runs", 0))
        failures.add_metric([name], stats.get("failures", 0))
        finished.add_metric([name], stats.get("last_at", 0.0))
    yield from (last, seconds, runs, failures, finished)


def queue_series() -> Iterable[Metric]:
    from opsconsole import broker

    queued = GaugeMetricFamily(
        "opsconsole_queue_length", "Tasks waiting for a q2 worker.", labels=["broker"]
    )
    queued.add_metric([settings.Q_BROKER], broker.shared().queue_size() or 0)
    yield queued


register_series("jobs", job_series)
register_series("queue", queue_series)
