"""History for the System Monitor charts: the console's own samples, or an existing
Prometheus (``PROMETHEUS_URL``) when one is configured.

    source = chosen_source(request.GET.get("source"))
    history = chart_history(host, start, end, source)
    history.charts   # one metrics.charts.Chart per entry of CHARTS
    history.source   # where the lines come from: "prometheus" or "console"
    history.notice   # why Prometheus was asked and not used, else ""

Prometheus is read over the console's own exported series
(``opsconsole_host_cpu_usage_percent{host="web-01"}``) unless
``PROMETHEUS_CHART_QUERIES`` gives a chart metric a PromQL template of its own.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from metrics import charts, rollups
from metrics.exposition import prometheus_name
from metrics.models import Host, Metric
from metrics.rollups import Point
from opsconsole.promquery import PrometheusError, PrometheusUnreachable, Series, query_range

# (title, metric key, unit, fixed top of the y axis)
CHARTS = [
    ("CPU", "cpu_usage_percent", "percent", 100.0),
    ("Memory", "memory_usage_percent", "percent", 100.0),
    ("Load (1 min)", "load_1m", "load", None),
    ("Network received", "network_received_bytes_per_second", "bytes_per_second", None),
    ("Network sent", "network_sent_bytes_per_second", "bytes_per_second", None),
    ("Disk writes", "disk_write_bytes_per_second", "bytes_per_second", None),
]
CHART_KEYS = [key for _, key, _, _ in CHARTS]

PROMETHEUS, CONSOLE = "prometheus", "console"
POINTS = 240
# A usual scrape interval: a finer step would only repeat the same samples.
MIN_STEP = 15
# Each chart asks for the average, minimum, maximum and sample count of every window.
FOLDS = ("avg", "min", "max", "count")
# The 24 queries of a page run side by side, so the page waits for about the slowest
# three rather than for their sum.
POOL_SIZE = 8


@dataclass
class History:
    charts: list[charts.Chart]
    source: str
    notice: str = ""
    # Titles of the charts drawn from the console's samples on a Prometheus page,
    # because their own queries failed.
    fallback: frozenset[str] = frozenset()


def chosen_source(requested: str | None) -> str:
    """``console`` when asked for or when no Prometheus is configured, else ``prometheus``.

    Any other value counts as the default, so an old or mistyped link still renders.
    """
    if requested == CONSOLE or not settings.PROMETHEUS_URL:
        return CONSOLE
    return PROMETHEUS


def prometheus_display_url() -> str:
    """PROMETHEUS_URL without the user and password it may carry, fit for a page."""
    parts = urlsplit(settings.PROMETHEUS_URL)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc))


def _shown(reason: str) -> str:
    # A page shows the URL, never the password it may carry.
    return reason.replace(settings.PROMETHEUS_URL, prometheus_display_url())


def chart_history(host: Host, start: datetime, end: datetime, source: str) -> History:
    """The charts from ``source``, falling back to the console's samples.

    A chart whose own queries fail is drawn from the console's samples and named in the
    notice; when every chart fails, or Prometheus holds nothing of the host in the
    range, the whole page is.
    """

    def console(why: str = "") -> History:
        notice = f"{why}; showing the console's own samples" if why else ""
        return History(_build(console_points(host, start, end), start, end), CONSOLE, notice)

    if source != PROMETHEUS:
        return console()
    answered = prometheus_points(host.hostname, start, end)
    if not answered.points:
        return console(_shown(answered.first_failure))
    if not answered.failures and not any(answered.points.values()):
        return console(
            f"Prometheus at {prometheus_display_url()} holds no samples of "
            f"{host.hostname} in this range"
        )
    if not answered.failures:
        return History(_build(answered.points, start, end), PROMETHEUS)
    local = console_points(host, start, end, keys=list(answered.failures))
    titles = [title for title, key, _, _ in CHARTS if key in answered.failures]
    notice = f"{', '.join(titles)} from the console's own samples: {_shown(answered.first_failure)}"
    return History(
        _build({**answered.points, **local}, start, end),
        PROMETHEUS,
        notice,
        fallback=frozenset(titles),
    )


def _build(points: dict[str, list[Point]], start: datetime, end: datetime) -> list[charts.Chart]:
    return [
        charts.build(title, unit, points.get(key, []), start, end, fixed_max=fixed_max)
        for title, key, unit, fixed_max in CHARTS
    ]


def console_points(
    host: Host, start: datetime, end: datetime, keys: list[str] = CHART_KEYS
) -> dict[str, list[Point]]:
    metric_ids = dict(Metric.objects.filter(key__in=keys).values_list("key", "pk"))
    return {
        key: rollups.series(host.pk, metric_id, start, end, max_points=POINTS)[2]
        for key, metric_id in metric_ids.items()
    }


# -- Prometheus ---------------------------------------------------------------------------
def check_chart_queries() -> None:
    """Refuse a PROMETHEUS_CHART_QUERIES key that is no chart: it would never be used."""
    unknown = sorted(set(settings.PROMETHEUS_CHART_QUERIES) - set(CHART_KEYS))
    if unknown:
        raise ImproperlyConfigured(
            f"PROMETHEUS_CHART_QUERIES names {', '.join(unknown)}, which no chart shows "
            f"(charts: {', '.join(CHART_KEYS)})"
        )


def label_value(text: str) -> str:
    """``text`` as the inside of a double-quoted PromQL string, e.g. a label matcher's."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# The characters RE2 (Prometheus' regular expressions) gives a meaning to.
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def regex_literal(text: str) -> str:
    """``text`` as an RE2 pattern that matches exactly it, for ``=~`` matchers."""
    return "".join(f"\\{c}" if c in _RE2_SPECIAL else c for c in text)


def chart_query(key: str, hostname: str) -> tuple[str, bool]:
    """The PromQL of one chart for one host, and whether it is a bare series selector."""
    host = label_value(hostname)
    template = settings.PROMETHEUS_CHART_QUERIES.get(key)
    if template is None:
        return f'{prometheus_name(key)}{{host="{host}"}}', True
    # str.replace, not str.format: PromQL is full of braces.
    promql = template.replace("{host_regex}", label_value(regex_literal(hostname)))
    return promql.replace("{host}", host), False


def step_for(start: datetime, end: datetime) -> int:
    return max(MIN_STEP, round((end - start).total_seconds() / POINTS))


def windowed(fold: str, promql: str, selector: bool, step: int) -> str:
    """``<fold>_over_time`` of ``promql`` over the ``step`` seconds up to each point.

    A selector takes a range itself, so every stored sample counts. Any other expression
    (a rate, a sum) has no samples of its own: a subquery evaluates it about ten times
    a window, never more often than every MIN_STEP seconds.
    """
    if selector:
        return f"{fold}_over_time({promql}[{step}s])"
    resolution = max(MIN_STEP, step // 10)
    return f"{fold}_over_time(({promql})[{step}s:{resolution}s])"


@dataclass
class Answered:
    """What Prometheus gave for each chart: points, or why not."""

    points: dict[str, list[Point]]
    failures: dict[str, str]

    @property
    def first_failure(self) -> str:
        return next(iter(self.failures.values()), "")


def prometheus_points(hostname: str, start: datetime, end: datetime) -> Answered:
    """Every chart's points from Prometheus, within PROMETHEUS_TIMEOUT in all.

    A chart with a failed or unanswered query is a failure. When Prometheus does not
    answer at all, the queries not yet sent are dropped: they would fail alike.
    """
    step = step_for(start, end)
    # Points fall on multiples of the step, so the refresh a minute later asks for the
    # same instants and the line does not shimmer.
    first = math.ceil(start.timestamp() / step) * step
    last = math.floor(end.timestamp() / step) * step
    jobs = {}
    for key in CHART_KEYS:
        promql, selector = chart_query(key, hostname)
        for fold in FOLDS:
            jobs[key, fold] = windowed(fold, promql, selector, step)
    answers: dict[tuple[str, str], list[Series]] = {}
    failures: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="promquery")
    try:
        futures = {pool.submit(query_range, q, first, last, step): job for job, q in jobs.items()}
        try:
            for future in as_completed(futures, timeout=settings.PROMETHEUS_TIMEOUT):
                key, fold = futures[future]
                try:
                    answers[key, fold] = future.result()
                except PrometheusUnreachable as exc:
                    failures = dict.fromkeys(CHART_KEYS, str(exc))
                    return Answered({}, failures)
                except PrometheusError as exc:
                    failures.setdefault(key, str(exc))
        except FuturesTimeout:
            # Late: every query whose answer was not taken in time, including any that
            # finished while the answers before it were being read.
            reason = (
                f"Prometheus at {settings.PROMETHEUS_URL} did not answer within "
                f"{settings.PROMETHEUS_TIMEOUT:g} s"
            )
            for key, fold in jobs:
                if (key, fold) not in answers:
                    failures.setdefault(key, reason)
    finally:
        # The page does not wait for queries still running, and drops those not sent.
        pool.shutdown(wait=False, cancel_futures=True)
    points = {
        key: merge_folds({fold: answers[key, fold] for fold in FOLDS})
        for key in CHART_KEYS
        if key not in failures
    }
    # Failures in the order of the charts, so the notice reads the same every time.
    return Answered(points, {key: failures[key] for key in CHART_KEYS if key in failures})


def _one_series(found: list[Series]) -> dict[float, float]:
    # A chart draws one line: a query matching several series (two instances of one
    # host) shows the first by its labels, the same one on every refresh.
    if not found:
        return {}
    chosen = min(found, key=lambda series: sorted(series.labels.items()))
    return {at: value for at, value in chosen.points if not math.isnan(value)}


def merge_folds(answers: dict[str, list[Series]]) -> list[Point]:
    """One Point per instant of the average, with the window's min, max and count."""
    folds = {fold: _one_series(found) for fold, found in answers.items()}
    points = []
    for at, value in sorted(folds["avg"].items()):
        points.append(
            Point(
                time=datetime.fromtimestamp(at, tz=UTC),
                value=value,
                min=folds["min"].get(at, value),
                max=folds["max"].get(at, value),
                count=int(folds["count"].get(at, 1)),
            )
        )
    return points
