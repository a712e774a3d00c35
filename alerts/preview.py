"""What a rule matches now, and how often it would have fired over the stored history.

The preview reads the same window the evaluator reads. The backtest replays the rule
minute by minute, with its ``for`` duration, clear threshold and cooldown, and counts
the alerts it would have raised: what an operator wants to know before turning a rule
on. Metric rules replay over the 1-minute roll-ups (their window rounded up to whole
minutes); process rules over the stored process samples, service rules over the
stored check results, each with the evaluator's own reading of a window.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from alerts import readings
from alerts.evaluator import (
    METRIC_KINDS,
    _aggregate,
    _applies,
    _breaches,
    _cleared,
    _read,
    _reading,
    compared_unit,
    nearest_rank,
    process_field,
    process_series,
    process_value,
    service_series,
    service_unit,
    service_value,
)
from alerts.models import AlertRule
from metrics import samples
from metrics.catalog import parse_key, unit_of
from metrics.models import Host, Metric, MinuteRollup, ProcessSample
from opsconsole.bounds import stored_problems

MAX_BACKTEST_HOURS = 24 * 7


@dataclass
class Match:
    host: str
    series: str
    value: float | None
    breached: bool
    unit: str = ""
    down: str = ""  # a service rule's endpoint reads as down: why


@dataclass
class TargetHistory:
    target: str
    unit: str = ""
    firings: int = 0
    firing_minutes: int = 0
    peak: float | None = None
    first_fired: datetime | None = None
    last_fired: datetime | None = None


@dataclass
class Backtest:
    hours: int
    minutes_replayed: int = 0
    firings: int = 0
    firing_minutes: int = 0
    targets: list[TargetHistory] = field(default_factory=list)
    # What was replayed, for the page: "the 1-minute roll-ups", "the check results"...
    source: str = "the 1-minute roll-ups"


def _prepare(rule: AlertRule) -> list[Metric]:
    """The series the rule reads; sets the parsed name and labels the evaluator uses."""
    if rule.kind not in METRIC_KINDS:
        raise ValueError(f"a preview reads metrics; a {rule.get_kind_display()} rule has none")
    name, labels = parse_key(rule.metric)
    rule._name, rule._labels = name, {**labels, **(rule.labels or {})}
    return list(Metric.objects.filter(name=name))


def value_unit(rule: AlertRule, metric: Metric) -> str:
    """The unit of what the rule compares: the metric's, or a count or rate of samples."""
    return {"count": "samples", "rate": "per_second"}.get(
        _reading(rule), compared_unit(rule, metric.unit)
    )


def threshold_unit(rule: AlertRule) -> str:
    """The unit of the value a rule compares with its threshold, without reading data."""
    if rule.kind == AlertRule.Kind.SERVICE_HEALTH:
        return service_unit(rule)
    if rule.kind == AlertRule.Kind.PROCESS_METRIC:
        return "percent"
    try:
        name = parse_key(rule.metric)[0] if rule.metric else ""
    except ValueError:
        name = ""
    metric = Metric(name=name, unit=unit_of(name))
    if not metric.unit and name and _reading(rule) not in ("count", "rate"):
        # A custom metric: the unit it was pushed with.
        metric.unit = Metric.objects.filter(name=name).values_list("unit", flat=True).first() or ""
    if not metric.unit and rule.kind == AlertRule.Kind.LATENCY:
        metric.unit = "ms"
    return value_unit(rule, metric)


def _hosts(rule: AlertRule) -> dict[int, Host]:
    hosts = Host.objects.filter(enabled=True).only("id", "hostname")
    if rule.host:
        hosts = hosts.filter(hostname=rule.host)
    return {h.pk: h for h in hosts}


def _check_stored(rule: AlertRule) -> None:
    """A rule saved before its numbers had bounds (a window of 10^12 s) cannot be
    replayed: say why, as the evaluator does, instead of overflowing."""
    problems = stored_problems(rule, AlertRule.BOUNDED_FIELDS)
    if problems:
        raise ValueError("this rule needs fixing first: " + "; ".join(problems))


def matches_now(rule: AlertRule, now: datetime | None = None) -> list[Match]:
    """Every series the rule reads, with its value over the window now; breaches first."""
    _check_stored(rule)
    now = now or timezone.now()
    if rule.kind == AlertRule.Kind.PROCESS_METRIC:
        found = _timed_matches_now(rule, _process_samples(rule, now, now), now)
    elif rule.kind == AlertRule.Kind.SERVICE_HEALTH:
        found = _timed_matches_now(rule, _check_results(rule, now, now), now)
    else:
        found = _metric_matches_now(rule, now)
    found.sort(key=lambda m: (not m.breached, m.host, m.series))
    return found


def _metric_matches_now(rule: AlertRule, now: datetime) -> list[Match]:
    metrics = _prepare(rule)
    hosts = _hosts(rule)
    window = rule.window_seconds or 60
    rows = _aggregate(
        [m.pk for m in metrics],
        now - timedelta(seconds=window),
        now,
        slope=rule.kind == AlertRule.Kind.TREND,
        percentiles=[rule.percentile] if rule.percentile else [],
        percentile_ids=[m.pk for m in metrics],
    )
    by_id = {m.pk: m for m in metrics}
    found = []
    for (host_id, metric_id), aggregate in rows.items():
        host, metric = hosts.get(host_id), by_id[metric_id]
        if host is None or not _applies(rule, host, metric):
            continue
        value = (
            None
            if rule.kind == AlertRule.Kind.ABSENCE
            else _read(_reading(rule), aggregate, window, host, metric)
        )
        breached = (
            rule.kind != AlertRule.Kind.ABSENCE
            and aggregate[0] >= rule.required_samples
            and _breaches(rule, value)
        )
        found.append(Match(host.hostname, metric.key, value, breached, value_unit(rule, metric)))
    return found


def backtest(rule: AlertRule, hours: int = 24, now: datetime | None = None) -> Backtest:
    """Replay the rule over the last ``hours`` of stored history."""
    if not 1 <= hours <= MAX_BACKTEST_HOURS:
        raise ValueError(f"hours must be between 1 and {MAX_BACKTEST_HOURS}")
    _check_stored(rule)
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    if rule.kind == AlertRule.Kind.PROCESS_METRIC:
        targets = _process_samples(rule, now - timedelta(hours=hours), now)
        return _timed_backtest(rule, targets, hours, now, "the process samples")
    if rule.kind == AlertRule.Kind.SERVICE_HEALTH:
        targets = _check_results(rule, now - timedelta(hours=hours), now)
        return _timed_backtest(rule, targets, hours, now, "the check results")
    if rule.percentile:
        # A percentile cannot be had from roll-ups' min, max, sum and count.
        targets = _raw_samples(rule, now - timedelta(hours=hours), now)
        return _timed_backtest(rule, targets, hours, now, "the raw samples")
    metrics = {m.pk: m for m in _prepare(rule)}
    hosts = _hosts(rule)
    start = now - timedelta(hours=hours)
    series: dict[tuple[int, int], list] = defaultdict(list)
    rows = (
        MinuteRollup.objects.filter(metric_id__in=list(metrics), bucket__gte=start, bucket__lt=now)
        .order_by("host_id", "metric_id", "bucket")
        .values_list("host_id", "metric_id", "bucket", "min", "max", "sum", "count")
    )
    for host_id, metric_id, bucket, low, high, total, count in rows.iterator(chunk_size=5000):
        host = hosts.get(host_id)
        if host is not None and _applies(rule, host, metrics[metric_id]):
            series[(host_id, metric_id)].append((bucket, low, high, total, count))
    result = Backtest(hours=hours, minutes_replayed=hours * 60)
    for (host_id, metric_id), buckets in series.items():
        history = _replay(rule, buckets, start, now)
        history.target = f"{hosts[host_id].hostname}/{metrics[metric_id].key}"
        history.unit = value_unit(rule, metrics[metric_id])
        result.firings += history.firings
        result.firing_minutes += history.firing_minutes
        result.targets.append(history)
    result.targets.sort(key=lambda t: (-t.firings, -t.firing_minutes, t.target))
    return result


def _replay(rule: AlertRule, buckets: list, start: datetime, end: datetime) -> TargetHistory:
    """Step one series of 1-minute roll-ups through OK, pending and firing."""
    width = max(1, math.ceil((rule.window_seconds or 60) / 60))
    by_minute = {b[0]: b for b in buckets}

    def values() -> Iterator[tuple[datetime, float | None]]:
        window: list = []
        minute = start
        while minute < end:
            window.append(by_minute.get(minute))
            if len(window) > width:
                window.pop(0)
            minute += timedelta(minutes=1)
            yield minute, _window_value(rule, [b for b in window if b is not None], width)

    return _step_minutes(rule, values())


def _step_minutes(rule: AlertRule, values) -> TargetHistory:
    """The evaluator's state machine over (minute, value of the window ending then[,
    why a service reads as down])."""
    history = TargetHistory(target="")
    firing, pending_since, resolved_at = False, None, None
    for minute, value, *down in values:
        down = down[0] if down else ""
        if rule.kind == AlertRule.Kind.ABSENCE:
            breach, cleared = value is None, value is not None
        elif down:
            breach, cleared = True, False  # a service that is down breaches, whatever its times
        elif value is None:
            continue  # no data: the evaluator neither fires nor resolves on silence
        else:
            breach = _breaches(rule, value)
            cleared = _cleared(rule, value)
        if value is not None and (history.peak is None or _worse(rule, value, history.peak)):
            history.peak = value
        if firing:
            if cleared:
                firing, resolved_at, pending_since = False, minute, None
            else:
                history.firing_minutes += 1
            continue
        if not breach:
            pending_since = None
            continue
        pending_since = pending_since or minute
        if (minute - pending_since).total_seconds() < rule.for_seconds:
            continue
        if resolved_at and (minute - resolved_at).total_seconds() < rule.cooldown_seconds:
            continue
        firing = True
        history.firings += 1
        history.firing_minutes += 1
        history.first_fired = history.first_fired or minute
        history.last_fired = minute
    return history


# -- process and service rules: timed samples, read as the evaluator reads them ---------
@dataclass
class _Timed:
    """One target's samples, oldest first, and how a window of them is read."""

    name: str
    series: str
    unit: str
    times: list[datetime]
    rows: list
    # A window of rows -> (the value, why a service reads as down or "").
    read: Callable[[list], tuple[float | None, str]]


def _process_samples(rule: AlertRule, start: datetime, end: datetime) -> list[_Timed]:
    """Per host, the rule's process samples from a window before ``start`` to ``end``."""
    hosts = Host.objects.filter(enabled=True)
    if rule.host:
        hosts = hosts.filter(hostname=rule.host)
    names = dict(hosts.values_list("pk", "hostname"))
    since = start - timedelta(seconds=rule.window_seconds or 60)
    # Each process on its own, as the evaluator judges it.
    per_process: dict[tuple[int, int], list] = defaultdict(list)
    for host_id, pid, at, value in (
        ProcessSample.objects.filter(
            name=rule.process, host_id__in=list(names), time__gte=since, time__lte=end
        )
        .order_by("time")
        .values_list("host_id", "pid", "time", process_field(rule))
        .iterator(chunk_size=5000)
    ):
        per_process[(host_id, pid)].append((at, value))

    def read(window: list) -> tuple[float | None, str]:
        if len(window) < rule.required_samples:
            return None, ""
        return process_value(rule, [value for _, value in window]), ""

    return [
        _Timed(
            names[host_id],
            f"{process_series(rule.process, pid)} {process_field(rule)}",
            "percent",
            [at for at, _ in rows],
            rows,
            read,
        )
        for (host_id, pid), rows in per_process.items()
    ]


def _check_results(rule: AlertRule, start: datetime, end: datetime) -> list[_Timed]:
    """Per endpoint the rule watches, its check results from a window before ``start``."""
    endpoints = readings.endpoints(None if rule.service == "*" else [rule.service])
    names = {pk: e.name for pk, e in endpoints.items()}
    retries = {pk: e.retries for pk, e in endpoints.items()}
    since = start - timedelta(seconds=rule.window_seconds or 60)
    per_endpoint: dict[int, list] = defaultdict(list)
    for endpoint_id, at, failed, response_ms, error in readings.checks(
        list(names), since=since, until=end
    ):
        per_endpoint[endpoint_id].append((at, failed, response_ms, error))
    unit = service_unit(rule)

    def reader(tolerated: int) -> Callable[[list], tuple[float | None, str]]:
        def read(window: list) -> tuple[float | None, str]:
            found = service_value(rule, window, retries=tolerated)
            if found is None or (not found.down and len(window) < rule.required_samples):
                return None, ""
            return found.value, found.down

        return read

    return [
        _Timed(
            names[pk], service_series(unit), unit, [c[0] for c in rows], rows, reader(retries[pk])
        )
        for pk, rows in per_endpoint.items()
    ]


def _raw_samples(rule: AlertRule, start: datetime, end: datetime) -> list[_Timed]:
    """Per series the rule reads, its raw samples from a window before ``start`` to
    ``end``, each window read as the evaluator reads a percentile."""
    metrics = {m.pk: m for m in _prepare(rule)}
    hosts = _hosts(rule)
    since = start - timedelta(seconds=rule.window_seconds or 60)
    # Days of history: the narrow table's newest hours and the compacted blocks before.
    per_series = {
        (host_id, metric_id): rows
        for (host_id, metric_id), rows in sorted(
            samples.read(hosts, metrics, since, end, include_end=True).items()
        )
        if rows and _applies(rule, hosts[host_id], metrics[metric_id])
    }

    percentile = rule.percentile
    assert percentile is not None  # backtest() reads raw samples for a percentile only

    def read(window: list) -> tuple[float | None, str]:
        if not window or len(window) < rule.required_samples:
            return None, ""
        return nearest_rank(sorted(value for _, value in window), percentile), ""

    return [
        _Timed(
            hosts[host_id].hostname,
            metrics[metric_id].key,
            value_unit(rule, metrics[metric_id]),
            [at for at, _ in rows],
            rows,
            read,
        )
        for (host_id, metric_id), rows in per_series.items()
    ]


def _window(target: _Timed, end: datetime, seconds: int) -> list:
    # The evaluator reads time >= now - window, and nothing after now.
    low = bisect_left(target.times, end - timedelta(seconds=seconds))
    return target.rows[low : bisect_right(target.times, end)]


def _timed_matches_now(rule: AlertRule, targets: list[_Timed], now: datetime) -> list[Match]:
    found = []
    for target in targets:
        value, down = target.read(_window(target, now, rule.window_seconds or 60))
        if value is not None or down:
            breached = bool(down) or _breaches(rule, value)
            found.append(Match(target.name, target.series, value, breached, target.unit, down))
    return found


def _timed_backtest(
    rule: AlertRule, targets: list[_Timed], hours: int, now: datetime, source: str
) -> Backtest:
    start = now - timedelta(hours=hours)
    seconds = rule.window_seconds or 60
    result = Backtest(hours=hours, minutes_replayed=hours * 60, source=source)
    for target in targets:
        minutes = (start + timedelta(minutes=i + 1) for i in range(hours * 60))
        history = _step_minutes(
            rule, ((m, *target.read(_window(target, m, seconds))) for m in minutes)
        )
        history.target = f"{target.name}/{target.series}"
        history.unit = target.unit
        result.firings += history.firings
        result.firing_minutes += history.firing_minutes
        result.targets.append(history)
    result.targets.sort(key=lambda t: (-t.firings, -t.firing_minutes, t.target))
    return result


def _window_value(rule: AlertRule, buckets: list, width: int) -> float | None:
    if not buckets:
        return None
    count = sum(b[4] for b in buckets)
    if not count or count < rule.required_samples:
        return None  # too few samples: the evaluator waits, as for no data
    reading = _reading(rule)
    if reading == "trend":
        points = [(b[0].timestamp(), b[3] / b[4]) for b in buckets if b[4]]
        if len(points) < 2:
            return 0.0
        n = len(points)
        mean_t = sum(t for t, _ in points) / n
        mean_v = sum(v for _, v in points) / n
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0
        return slope * 3600
    aggregate: tuple[int, float, float, float, float, dict[int, float]] = (
        count,
        sum(b[3] for b in buckets) / count,
        min(b[1] for b in buckets),
        max(b[2] for b in buckets),
        0.0,
        {},
    )
    if reading == "last":
        last = buckets[-1]
        return last[3] / last[4]
    return _read(reading, aggregate, width * 60, None, None)


def _worse(rule: AlertRule, value: float, than: float) -> bool:
    if rule.operator in (AlertRule.Operator.LT, AlertRule.Operator.LTE):
        return value < than
    return value > than
