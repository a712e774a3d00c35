"""The evaluator: enabled rules against recent samples, set-wise, turned into alerts.

One pass reads every rule's data with one aggregate query per distinct window (not a
query per rule per host), then steps each (rule, target) through its state: OK,
pending (the condition holds, waiting out ``for_seconds``), firing. It honours
cooldowns after a resolve, hysteresis (``clear_threshold``), the repeat interval,
and flapping (too many changes in a window: the alert is held open instead
of firing and resolving in a stream). A firing rule whose data stops raises a "no data"
alert rather than resolving falsely. What it finds goes through ``alerts.pipeline``
like every other source's alerts (silences and dependencies are applied there).
Decisions that withhold something are written to the timeline (``AlertEvent``) with
the reason.

A pass reads only what changed: each ingest commit stamps its host
(``mark_changed``), and a pass reads the metric samples of the hosts stamped since the
previous pass began, plus the hosts with a target that time alone moves on (pending,
firing, or without data: its ``for`` runs out, its repeat falls due, its data stays
away). A series that did not change reads as it did the pass before, so skipping it
changes nothing; the windows of the others are read from the raw samples, which the
primary key index serves per series. A full pass (every enabled host) runs when there
is no previous pass to go by, when the rules changed, and every
``ALERT_FULL_EVALUATION_SECONDS`` as a backstop. Absence rules, process rules and
service rules read their whole data every pass (an absence begins when nothing
arrives, which no stamp tells). Passes never overlap: one that finds another running
is skipped and counted (``pass_stats``, on ``/metrics``).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Max, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts import pipeline, policies, readings, recommendations
from alerts.constants import SEVERITY_RANK, EventKind, Severity, Status
from alerts.models import AlertEvent, AlertRule, RuleState
from alerts.service import Alert, AlertService, _overage, priority_for_overage
from metrics.catalog import parse_key
from metrics.ingest import get_latest, latest_cache_key
from metrics.models import Host, Metric, MetricSample, MinuteRollup, ProcessSample
from opsconsole.bounds import stored_problems
from opsconsole.units import humanize_value

logger = logging.getLogger(__name__)

METRIC_KINDS = AlertRule.METRIC_KINDS
FLAP_WINDOW = timedelta(minutes=10)
FLAP_LIMIT = 4  # more state changes than this within FLAP_WINDOW is flapping
LOCK_KEY = "alerts:evaluating"
# Renewed every third of it while a pass runs (``_hold_lock``).
LOCK_SECONDS = 15
# host pk -> wall-clock time of its last ingest commit (``mark_changed``).
CHANGED_KEY = "alerts:changed:{}"
# What the next pass goes by: when the last one began, the last full pass, the rules.
MARK_KEY = "alerts:evaluation-mark"
SKIPPED_KEY = "alerts:evaluation-skipped"
LAST_RUN_KEY = "alerts:evaluation-last"
# A stamp this much older than the last pass's start still counts as new: the clocks of
# the web and worker machines may differ by this much.
CLOCK_MARGIN = 1.0
STAMP_TTL = 24 * 3600

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    AlertRule.Operator.GT: lambda v, t: v > t,
    AlertRule.Operator.GTE: lambda v, t: v >= t,
    AlertRule.Operator.LT: lambda v, t: v < t,
    AlertRule.Operator.LTE: lambda v, t: v <= t,
    AlertRule.Operator.EQ: lambda v, t: v == t,
    AlertRule.Operator.NE: lambda v, t: v != t,
}


@dataclass
class Observation:
    rule: AlertRule
    host: Host | _ServiceTarget
    series: str  # the metric's series key, or "<process name>/<pid>"
    value: float | None  # None: no data in the window
    unit: str = ""  # the metric's unit, for messages ("percent", "ms", ...)
    # A service rule reading response times: the endpoint's newest checks failed, so it
    # breaches whatever the times of the answers it did give (a fast HTTP 500 is down).
    down: str = ""  # why, for the message; "" when not down
    # A process rule's process that is no longer running while its host still reports
    # processes: its alert resolves instead of turning into "no data".
    gone: bool = False
    # Samples (or checks) the value was read from; fewer than the rule requires and the
    # rule waits (``AlertRule.required_samples``). None: not counted (no data).
    samples: int | None = None

    @property
    def target(self) -> str:
        return f"{self.host.hostname}/{self.series}"

    @property
    def resource(self) -> str:
        """What the alert is about: the host, or for a process rule the host, process
        and PID (``web-01/python/4242``), so each process is its own alert."""
        if self.rule.kind == AlertRule.Kind.PROCESS_METRIC:
            return self.target
        return self.host.hostname

    @property
    def subject(self) -> str:
        """The series as a message names it: ``python (pid 4242)`` for a process."""
        if self.rule.kind == AlertRule.Kind.PROCESS_METRIC:
            name, _, pid = self.series.rpartition("/")
            return f"{name} (pid {pid})" if name else self.series
        return self.series


@dataclass
class _ServiceTarget:
    """A service endpoint standing where a host stands for the other kinds of rule: its
    name is the alert's resource and the start of the target key."""

    hostname: str
    pk: None = None


@dataclass
class PassResult:
    rules: int = 0
    targets: int = 0
    fired: int = 0
    repeated: int = 0
    resolved: int = 0
    pending: int = 0
    withheld: int = 0
    no_data: int = 0
    expired: int = 0
    # Held-back alerts let go (their silence ended) and open ones a new silence covers.
    released: int = 0
    held: int = 0
    # Rules that could not be evaluated this pass (marked broken, the others went on).
    broken: int = 0
    # Hosts whose metric samples this pass read, and whether it read every host's.
    hosts: int = 0
    full: bool = False
    # True: another pass was running, this one did nothing.
    skipped: bool = False
    seconds: float = 0.0


_rules_cache: tuple[tuple, list[AlertRule]] | None = None


def _rules_version() -> tuple:
    return tuple(AlertRule.objects.aggregate(n=Count("id"), last=Max("updated")).values())


def enabled_rules(version: tuple | None = None) -> list[AlertRule]:
    """The enabled rules, kept between passes while none is added, edited or deleted.

    A worker evaluates every few seconds and rules change a few times a day: one small
    aggregate tells whether the list kept from the last pass is still the list. Every
    edit path bumps ``updated`` (saves through the admin, the API, bulk enable/disable).
    """
    global _rules_cache
    version = version if version is not None else _rules_version()
    if _rules_cache is None or _rules_cache[0] != version:
        # Only what evaluation reads: with a thousand rules, loading descriptions and
        # parsing timestamps nobody looks at is a good share of a pass.
        rules = list(
            AlertRule.objects.filter(enabled=True).defer(
                "description", "created", "updated", "broken_reason"
            )
        )
        # Values stored before the bounds existed (a window of 10^12 s) are found once per
        # load, not per pass: such a rule is reported broken instead of evaluated.
        for rule in rules:
            rule._stored_problems = stored_problems(rule, AlertRule.BOUNDED_FIELDS)
        _rules_cache = (version, rules)
    return list(_rules_cache[1])


def longest_window_seconds() -> int:
    """The longest window an enabled rule reads of the samples table (process and
    service rules read tables of their own)."""
    longest = (
        AlertRule.objects.filter(enabled=True)
        .exclude(kind__in=[AlertRule.Kind.PROCESS_METRIC, AlertRule.Kind.SERVICE_HEALTH])
        .aggregate(longest=Max("window_seconds"))["longest"]
    )
    return int(longest or 0)


def evaluate(now: datetime | None = None, *, full: bool = False) -> PassResult:
    """One pass over every enabled rule (``full``: over every host's samples, changed
    or not). Skipped, and counted, if another pass is running."""
    if not cache.add(LOCK_KEY, 1, timeout=LOCK_SECONDS):
        logger.info("an evaluation is already running; skipping this one")
        _count_skip()
        return PassResult(skipped=True)
    held = threading.Event()
    threading.Thread(target=_hold_lock, args=(held,), daemon=True).start()
    try:
        result = Evaluator(now or timezone.now(), full=full).run()
        cache.set(
            LAST_RUN_KEY,
            {"seconds": result.seconds, "hosts": result.hosts, "full": result.full},
            timeout=None,
        )
        return result
    finally:
        held.set()
        cache.delete(LOCK_KEY)


def _hold_lock(done: threading.Event) -> None:
    """Keep the pass's lock while it runs. The lock is short so that a worker killed in
    the middle of a pass (SIGKILL, OOM) stops evaluation for seconds, not minutes."""
    while not done.wait(LOCK_SECONDS / 3):
        cache.touch(LOCK_KEY, LOCK_SECONDS)


def _count_skip() -> None:
    # add-then-incr: incr alone fails on a missing key; the count lives as long as the
    # cache (a restart of Redis starts it again, as a Prometheus counter may).
    cache.add(SKIPPED_KEY, 0, timeout=None)
    try:
        cache.incr(SKIPPED_KEY)
    except ValueError:  # evicted in between
        cache.set(SKIPPED_KEY, 1, timeout=None)


def pass_stats() -> dict:
    """Passes skipped because one was running, and the last pass's duration (None
    before the first), for ``/metrics`` and the status page."""
    last = cache.get(LAST_RUN_KEY) or {}
    return {
        "skipped": int(cache.get(SKIPPED_KEY) or 0),
        "last_seconds": last.get("seconds"),
        "last_hosts": last.get("hosts"),
        "last_full": last.get("full"),
    }


def evaluation_warnings() -> list[str]:
    """A line for ``/api/v1/status`` while evaluation falls behind: the last pass took
    more than a tenth of the interval (ingest wakes a pass every second at most, so a
    slower pass makes the next ones skip)."""
    stats = pass_stats()
    interval = settings.ALERT_EVALUATION_INTERVAL
    if stats["last_seconds"] is None or stats["last_seconds"] <= interval / 10:
        return []
    return [
        f"alert evaluation: the last pass took {stats['last_seconds']:.1f} s, more than "
        f"10 % of the {interval} s interval; {stats['skipped']} passes skipped as "
        "overlapping so far"
    ]


def mark_changed(sender=None, host=None, **kwargs) -> None:
    """``samples_ingested`` receiver: stamp the host as changed (after the commit, so a
    pass that reads the stamp also reads the samples)."""
    if host is not None:
        cache.set(CHANGED_KEY.format(host.pk), time.time(), timeout=STAMP_TTL)


class Evaluator:
    def __init__(self, now: datetime, *, full: bool = False):
        self.now = now
        self.full = full
        self.service = AlertService()
        self.result = PassResult()
        # rule id -> why it could not be evaluated this pass.
        self.failures: dict[int, str] = {}
        # window -> the hosts that sent process samples within it (read when needed).
        self._process_reporters: dict[int, set[int]] = {}
        # host pk -> its latest values, read once a pass for the rules reading "last".
        self._latest: dict[int, dict] = {}
        # Stored states whose only change this pass is their last value: one UPDATE at
        # the end of the pass instead of a save per target (a storm keeps hundreds
        # firing, each re-read every pass).
        self._touched: list[RuleState] = []
        # The hosts whose metric samples this pass reads; None: every host.
        self.scope: set[int] | None = None

    def _failed(self, rules: list[AlertRule], exc: BaseException | str) -> None:
        """Set these rules aside as broken for this pass; the rest go on."""
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        for rule in rules:
            self.failures.setdefault(rule.pk, reason[:1000])

    def run(self) -> PassResult:
        started, wall = time.perf_counter(), time.time()
        version = _rules_version()
        loaded = enabled_rules(version)
        for rule in loaded:
            if rule._stored_problems:
                self._failed([rule], "; ".join(rule._stored_problems))
        rules = [r for r in loaded if r.pk not in self.failures]
        self.result.rules = len(loaded)
        hosts = {h.pk: h for h in Host.objects.filter(enabled=True).only("id", "hostname")}
        # A join, not an IN list of every rule's id.
        states = {(s.rule_id, s.target): s for s in RuleState.objects.filter(rule__enabled=True)}
        for state in states.values():
            state._loaded = _fields(state)
        mark = cache.get(MARK_KEY)
        self.scope = self._scope(mark, version, hosts, states.values())
        self.result.full = self.scope is None
        self.result.hosts = len(hosts) if self.scope is None else len(self.scope)
        observations = (
            self._metric_observations(
                [r for r in rules if r.kind in METRIC_KINDS], hosts, set(states)
            )
            + self._process_observations(
                [r for r in rules if r.kind == AlertRule.Kind.PROCESS_METRIC], hosts
            )
            + self._service_observations(
                [r for r in rules if r.kind == AlertRule.Kind.SERVICE_HEALTH]
            )
        )
        # A target that had a state but sent nothing this time is a no-data observation.
        seen = {(o.rule.pk, o.target) for o in observations}
        by_id = {r.pk: r for r in rules}
        by_name = {h.hostname: h for h in hosts.values()}
        for rule_id, target in states:
            if (rule_id, target) in seen:
                continue
            hostname, _, series = target.partition("/")
            host = by_name.get(hostname)
            # (A service rule's target is an endpoint, never a host: its silence is the
            # monitoring gap's to report.) A metric rule's target on a host this pass did
            # not read is as it was.
            if (
                host is not None
                and rule_id in by_id
                and by_id[rule_id].kind != AlertRule.Kind.SERVICE_HEALTH
                and (self._in_scope(host.pk) or by_id[rule_id].kind not in METRIC_KINDS)
            ):
                self.result.targets += 1
                rule = by_id[rule_id]
                gone = rule.kind == AlertRule.Kind.PROCESS_METRIC and self._reports_processes(
                    rule, host
                )
                observations.append(Observation(rule, host, series, None, gone=gone))
        for observation in observations:
            if observation.rule.pk in self.failures:
                continue
            if (
                observation.samples is not None
                and observation.samples < observation.rule.required_samples
            ):
                # Too few samples to judge: neither fire nor resolve, and not "no data".
                continue
            known = states.get((observation.rule.pk, observation.target))
            try:
                if (
                    known is None
                    and observation.value is not None
                    and not self._breach(observation)
                ):
                    continue  # healthy and never anything else: nothing to record
                with transaction.atomic():
                    self._step(observation, known)
            except Exception as exc:
                logger.exception("evaluating %s failed", observation.target)
                self._failed([observation.rule], exc)
        self._save_touched()
        self._record_broken(loaded)
        self.result.expired = self.service.expire_alerts(self.now)
        try:
            changed = pipeline.reapply_policies(self.now)
            self.result.released, self.result.held = changed["released"], changed["held"]
        except Exception:
            logger.exception("re-applying silences and dependencies failed")
        full_at = wall if self.scope is None else (mark or {}).get("full_at", wall)
        cache.set(MARK_KEY, {"started": wall, "full_at": full_at, "rules": version}, None)
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _scope(self, mark, version, hosts: dict, states) -> set[int] | None:
        """The hosts whose metric samples changed since the last pass began, with those
        of targets that time moves on; None (every host) for a full pass."""
        if (
            self.full
            or mark is None
            or mark.get("rules") != version
            or time.time() - mark.get("full_at", 0) >= settings.ALERT_FULL_EVALUATION_SECONDS
        ):
            return None
        since = mark["started"] - CLOCK_MARGIN
        stamps = cache.get_many([CHANGED_KEY.format(pk) for pk in hosts])
        scope = {pk for pk in hosts if stamps.get(CHANGED_KEY.format(pk), 0) >= since}
        by_name = {h.hostname: pk for pk, h in hosts.items()}
        for state in states:
            if state.state != RuleState.State.OK or state.no_data:
                pk = by_name.get(state.target.partition("/")[0])
                if pk is not None:
                    scope.add(pk)
        return scope

    def _in_scope(self, host_id: int) -> bool:
        return self.scope is None or host_id in self.scope

    def _record_broken(self, loaded: list[AlertRule]) -> None:
        """Mark the rules that failed this pass with their reason (kept from their first
        failure on), and clear the mark of enabled rules evaluated without one."""
        self.result.broken = len(self.failures)
        names = {r.pk: r.name for r in loaded}
        since = Coalesce(F("broken_since"), Value(self.now, output_field=DateTimeField()))
        for rule_id, reason in self.failures.items():
            newly = AlertRule.objects.filter(pk=rule_id, broken_since__isnull=True).update(
                broken_reason=reason, broken_since=self.now
            )
            if newly:
                logger.warning("rule %s is broken: %s", names.get(rule_id, rule_id), reason)
            else:
                AlertRule.objects.filter(pk=rule_id).exclude(broken_reason=reason).update(
                    broken_reason=reason, broken_since=since
                )
        # (update() leaves ``updated`` alone, so the rules kept between passes stay.)
        AlertRule.objects.filter(enabled=True, broken_since__isnull=False).exclude(
            pk__in=list(self.failures)
        ).update(broken_reason="", broken_since=None)

    # -- reading the data ------------------------------------------------------------------
    def _metric_observations(
        self, rules: list[AlertRule], hosts: dict, state_keys: set
    ) -> list[Observation]:
        if not rules:
            return []
        wanted: dict[str, list[AlertRule]] = defaultdict(list)
        for rule in rules:
            try:
                name, labels = parse_key(rule.metric)
            except ValueError as exc:
                self._failed([rule], f"invalid metric {rule.metric!r}: {exc}")
                continue
            rule._name = name
            rule._labels = {**labels, **(rule.labels or {})}
            wanted[name].append(rule)
        metrics = {m.pk: m for m in Metric.objects.filter(name__in=list(wanted))}
        if not metrics:
            return []
        observations: list[Observation] = []
        windows: dict[int, list[AlertRule]] = defaultdict(list)
        for name_rules in wanted.values():
            for rule in name_rules:
                windows[rule.window_seconds or 60].append(rule)
        self._absence_pairs: set[tuple[int, int]] | None = None
        for window, window_rules in windows.items():
            # One window's query and matching at a time: a failure sets aside the rules
            # of that window, and the other windows' observations still count.
            try:
                observations += self._window_observations(
                    window, window_rules, metrics, hosts, state_keys
                )
            except Exception as exc:
                logger.exception("evaluating the %s s window failed", window)
                self._failed(window_rules, exc)
        return observations

    def _window_observations(
        self, window: int, window_rules: list[AlertRule], metrics: dict, hosts: dict, state_keys
    ) -> list[Observation]:
        observations: list[Observation] = []
        names = {parse_key(r.metric)[0] for r in window_rules}
        ids = [pk for pk, m in metrics.items() if m.name in names]
        trend = any(r.kind == AlertRule.Kind.TREND for r in window_rules)
        percentiles = {r.percentile for r in window_rules if r.percentile}
        percentile_ids = [
            pk
            for pk, m in metrics.items()
            if m.name in {parse_key(r.metric)[0] for r in window_rules if r.percentile}
        ]
        start = self.now - timedelta(seconds=window)
        scope = None if self.scope is None else sorted(self.scope)
        rows = (
            {}
            if scope == []
            else _aggregate(
                ids,
                start,
                self.now,
                slope=trend,
                percentiles=sorted(percentiles),
                percentile_ids=percentile_ids,
                host_ids=scope,
            )
        )
        present = set()
        plan = _Plan(window_rules, state_keys)
        if any(_reading(r) == "last" for r in window_rules):
            self._prefetch_latest({host_id for host_id, _ in rows})
        for (host_id, metric_id), aggregate in rows.items():
            host = hosts.get(host_id)
            if host is None:
                continue
            present.add((host_id, metric_id))
            metric = metrics[metric_id]
            # Rules without a host or label filter, grouped by how they read the
            # data: one value per group, and the breached thresholds found by
            # bisection, not by testing a thousand rules one by one.
            for group in plan.simple.get(metric.name, ()):
                self.result.targets += group.size
                value = _read(group.reading, aggregate, window, host, metric, self._latest_of)
                for rule in group.breached(value):
                    observations.append(
                        Observation(
                            rule, host, metric.key, value, metric.unit, samples=aggregate[0]
                        )
                    )
            target = f"{host.hostname}/{metric.key}" if plan.needs_target else ""
            for rule in plan.stateful_simple.get((metric.name, target), ()):
                value = self._value(rule, host, metric, aggregate, window)
                if not _breaches(rule, value):  # breached ones are already in
                    observations.append(
                        Observation(
                            rule, host, metric.key, value, metric.unit, samples=aggregate[0]
                        )
                    )
            for rule in plan.filtered.get(metric.name, ()):
                if not _applies(rule, host, metric):
                    continue
                self.result.targets += 1
                value = self._value(rule, host, metric, aggregate, window)
                if (rule.pk, target) in state_keys or _breaches(rule, value):
                    observations.append(
                        Observation(
                            rule, host, metric.key, value, metric.unit, samples=aggregate[0]
                        )
                    )
        absence = [r for r in window_rules if r.kind == AlertRule.Kind.ABSENCE]
        if absence:
            if self._absence_pairs is None:
                self._absence_pairs = _recent_pairs(list(metrics), self.now)
            if self.scope is not None:
                # An absence begins on a host that sent nothing: which series reported
                # within the window is read over every host.
                absent_ids = [
                    pk for pk, m in metrics.items() if m.name in {r._name for r in absence}
                ]
                present = _present(absent_ids, start, self.now)
            for host_id, metric_id in self._absence_pairs - present:
                host, metric = hosts.get(host_id), metrics[metric_id]
                for rule in absence:
                    if host is not None and _applies(rule, host, metric):
                        self.result.targets += 1
                        observations.append(Observation(rule, host, metric.key, None, metric.unit))
        return observations

    def _value(self, rule, host, metric, aggregate, window) -> float:
        return _read(_reading(rule), aggregate, window, host, metric, self._latest_of)

    def _prefetch_latest(self, host_ids: set[int]) -> None:
        """The latest values of these hosts in one cache round trip (not one per host)."""
        wanted = {latest_cache_key(pk): pk for pk in host_ids if pk not in self._latest}
        found = cache.get_many(list(wanted)) if wanted else {}
        for key, pk in wanted.items():
            self._latest[pk] = found.get(key) or {"time": None, "values": {}, "processes": []}

    def _latest_of(self, host: Host) -> dict:
        """The host's latest values, read from the cache once a pass."""
        if host.pk not in self._latest:
            self._latest[host.pk] = get_latest(host)
        return self._latest[host.pk]

    def _process_observations(self, rules: list[AlertRule], hosts: dict) -> list[Observation]:
        observations = []
        for rule in rules:
            try:
                observations += self._process_rule(rule, hosts)
            except Exception as exc:
                logger.exception("reading process samples for rule %s failed", rule)
                self._failed([rule], exc)
        return observations

    def _process_rule(self, rule: AlertRule, hosts: dict) -> list[Observation]:
        """Each matching process on its own (host, PID): one python at 95 % memory is an
        alert even while another python on the host sits at 1 %."""
        # Process rules are few; one query each over the process samples.
        observations = []
        since = self.now - timedelta(seconds=rule.window_seconds or 60)
        rows = ProcessSample.objects.filter(name=rule.process, time__gte=since).order_by("time")
        per_process: dict[tuple[int, int], list[float]] = defaultdict(list)
        for host_id, pid, value in rows.values_list("host_id", "pid", process_field(rule)):
            per_process[(host_id, pid)].append(value)
        for (host_id, pid), values in per_process.items():
            host = hosts.get(host_id)
            if host is None or (rule.host and host.hostname != rule.host):
                continue
            self.result.targets += 1
            value = process_value(rule, values)
            series = process_series(rule.process, pid)
            observations.append(
                Observation(rule, host, series, value, "percent", samples=len(values))
            )
        return observations

    def _reports_processes(self, rule: AlertRule, host: Host) -> bool:
        """Whether the host sent process samples within the rule's window: then a process
        missing from them has exited, rather than its host having gone quiet."""
        window = rule.window_seconds or 60
        if window not in self._process_reporters:
            # One query per distinct window, over the time index.
            self._process_reporters[window] = set(
                ProcessSample.objects.filter(time__gte=self.now - timedelta(seconds=window))
                .values_list("host_id", flat=True)
                .distinct()
            )
        return host.pk in self._process_reporters[window]

    def _service_observations(self, rules: list[AlertRule]) -> list[Observation]:
        """Service endpoints' check results over each rule's window: the response time
        (avg, max, min, last) or the failed checks (count, or rate per second)."""
        if not rules:
            return []
        names = {r.service for r in rules}
        by_id = readings.endpoints(None if "*" in names else names)
        if not by_id:
            return []
        longest = max(r.window_seconds or 60 for r in rules)
        results: dict[int, list] = defaultdict(list)
        for endpoint_id, at, failed, response_ms, error in readings.checks(
            list(by_id), since=self.now - timedelta(seconds=longest)
        ):
            results[endpoint_id].append((at, failed, response_ms, error))
        observations = []
        for rule in rules:
            try:
                observations += self._service_rule(rule, by_id, results)
            except Exception as exc:
                logger.exception("reading check results for rule %s failed", rule)
                self._failed([rule], exc)
        return observations

    def _service_rule(self, rule: AlertRule, by_id: dict, results: dict) -> list[Observation]:
        observations = []
        window = rule.window_seconds or 60
        since = self.now - timedelta(seconds=window)
        for endpoint in by_id.values():
            if rule.service not in ("*", endpoint.name):
                continue
            checks = [c for c in results.get(endpoint.pk, ()) if c[0] >= since]
            read = service_value(rule, checks, retries=endpoint.retries)
            if read is None:
                continue
            self.result.targets += 1
            target = _ServiceTarget(endpoint.name)
            observations.append(
                Observation(
                    rule,
                    target,
                    service_series(read.unit),
                    read.value,
                    read.unit,
                    read.down,
                    # A service that is down pages whatever the count of its checks.
                    samples=None if read.down else len(checks),
                )
            )
        return observations

    # -- stepping a target -------------------------------------------------------------------
    def _save(self, state: RuleState) -> None:
        if state.pk and getattr(state, "_loaded", None) == _fields(state):
            self._touched.append(state)
            return
        state.save()
        state._loaded = _fields(state)

    def _save_touched(self) -> None:
        try:
            RuleState.objects.bulk_update(self._touched, ["last_value"], batch_size=500)
        except Exception:
            logger.exception("storing the targets' last values failed")

    def _step(self, obs: Observation, state: RuleState | None) -> None:
        rule, now = obs.rule, self.now
        if state is None:
            state = RuleState(rule=rule, target=obs.target, since=now)
        if obs.gone:
            self._process_gone(obs, state)
            return
        if obs.value is None and not obs.down and rule.kind != AlertRule.Kind.ABSENCE:
            self._no_data(obs, state)
            return
        if state.no_data:
            self._data_back(obs, state)
        breach = self._breach(obs)
        state.last_value = obs.value
        if state.state == RuleState.State.FIRING:
            if breach:
                self._repeat(obs, state)
            elif not obs.down and _cleared(rule, obs.value):
                self._resolve(obs, state)
            else:
                self._save(state)  # between threshold and clear threshold: still firing
            return
        if not breach:
            if state.state == RuleState.State.PENDING:
                state.state, state.since = RuleState.State.OK, now
            if state.pk or state.state != RuleState.State.OK:
                self._save(state)
            return
        if state.state == RuleState.State.OK:
            state.state, state.since = RuleState.State.PENDING, now
            if rule.for_seconds:
                self._save(state)
                self._note(
                    rule,
                    EventKind.PENDING,
                    obs,
                    f"condition holds; firing after {rule.for_seconds} s",
                )
                self.result.pending += 1
                return
        if (now - state.since).total_seconds() < rule.for_seconds:
            self._save(state)
            return
        self._fire(obs, state)

    def _fire(self, obs: Observation, state: RuleState) -> None:
        rule, now = obs.rule, self.now
        if state.resolved_at and (now - state.resolved_at).total_seconds() < rule.cooldown_seconds:
            self._save(state)
            key = f"alerts:cooldown-noted:{rule.pk}:{obs.target}"
            if cache.add(key, 1, timeout=rule.cooldown_seconds):
                self._note(
                    rule,
                    EventKind.COOLDOWN,
                    obs,
                    f"withheld: in cooldown for {rule.cooldown_seconds} s after the last resolve",
                )
            self.result.withheld += 1
            return
        self._record_change(state)
        alert = pipeline.raise_alert(self._alert(obs), actor="evaluator", at=now)
        state.state, state.since, state.last_fired, state.alert = (
            RuleState.State.FIRING,
            now,
            now,
            alert,
        )
        self._save(state)
        self.result.fired += 1
        if alert.suppressed_by in policies.POLICY_ACTORS and alert.status == Status.SUPPRESSED:
            self.result.withheld += 1

    def _repeat(self, obs: Observation, state: RuleState) -> None:
        rule = obs.rule
        due = state.last_fired is None or (
            (self.now - state.last_fired).total_seconds() >= rule.repeat_interval_seconds
        )
        if due and state.alert_id:
            pipeline.raise_alert(self._alert(obs), actor="evaluator", at=self.now)
            state.last_fired = self.now
            self.result.repeated += 1
        self._save(state)

    def _resolve(self, obs: Observation, state: RuleState) -> None:
        if self._would_flap(state):
            self._save(state)
            return
        self._record_change(state)
        alert_id = state.alert_id
        state.state, state.since, state.resolved_at = RuleState.State.OK, self.now, self.now
        state.alert = None
        state.flapping = False
        self._save(state)
        # (None: someone resolved it by hand meanwhile.)
        if alert_id and pipeline.clear_alert(
            f"rule_{obs.rule.pk}",
            obs.resource,
            {"series": obs.series},
            actor="evaluator",
            note=f"condition cleared: {obs.rule.metric or obs.series} is {_cleared_value(obs)}",
            data={"value": obs.value},
        ):
            self.result.resolved += 1

    def _process_gone(self, obs: Observation, state: RuleState) -> None:
        """The process exited: its alert resolves, and its state goes (a PID does not
        come back, so keeping it would only grow the table)."""
        alert_id = state.alert_id if state.state == RuleState.State.FIRING else None
        if state.pk:
            state.delete()
        if alert_id and pipeline.clear_alert(
            f"rule_{obs.rule.pk}",
            obs.resource,
            {"series": obs.series},
            actor="evaluator",
            note=f"{obs.subject} is no longer running on {obs.host.hostname}",
        ):
            self.result.resolved += 1

    def _recent_changes(self, state: RuleState) -> list[str]:
        horizon = (self.now - FLAP_WINDOW).isoformat()
        return [t for t in state.changes if t >= horizon]

    def _record_change(self, state: RuleState) -> None:
        state.changes = [*self._recent_changes(state), self.now.isoformat()]

    def _would_flap(self, state: RuleState) -> bool:
        """Resolving now would make one change too many in the window: hold the alert
        open instead (it resolves once the value has settled for the whole window)."""
        if len(self._recent_changes(state)) + 1 <= FLAP_LIMIT:
            return False
        if not state.flapping and state.alert_id:
            AlertEvent.objects.create(
                alert_id=state.alert_id,
                rule=state.rule,
                kind=EventKind.FLAPPING,
                actor="evaluator",
                reason=(
                    f"flapping: {FLAP_LIMIT} changes within "
                    f"{int(FLAP_WINDOW.total_seconds() // 60)} min; held open until the "
                    "value settles"
                ),
            )
        state.flapping = True
        self.result.withheld += 1
        return True

    def _no_data(self, obs: Observation, state: RuleState) -> None:
        if state.state != RuleState.State.FIRING or state.no_data:
            if state.state == RuleState.State.PENDING:
                state.state, state.since = RuleState.State.OK, self.now
                self._save(state)
            return
        # Firing, and the data stopped: say so instead of resolving on silence.
        rule = obs.rule
        pipeline.raise_alert(
            Alert(
                alert_type=f"no_data_rule_{rule.pk}",
                title=f"No data: {rule.name} - {obs.resource}",
                message=(
                    f"{obs.series} sent nothing for {rule.window_seconds} s while "
                    f"'{rule.name}' was firing; its alert stays open until data returns"
                ),
                priority=rule.severity,
                category=rule.category,
                resource=obs.resource,
                labels={"series": obs.series},
                rule=rule,
                recommendations=[
                    f"Check that the collector or agent on {obs.host.hostname} is running.",
                    "Check the console's workers: Admin → Tasks → Failed tasks.",
                ],
            ),
            actor="evaluator",
            at=self.now,
        )
        state.no_data = True
        self._save(state)
        self.result.no_data += 1

    def _data_back(self, obs: Observation, state: RuleState) -> None:
        pipeline.clear_alert(
            f"no_data_rule_{obs.rule.pk}",
            obs.resource,
            {"series": obs.series},
            actor="evaluator",
            note="data is arriving again",
        )
        state.no_data = False

    # -- helpers -----------------------------------------------------------------------------
    def _breach(self, obs: Observation) -> bool:
        return bool(obs.down) or _breaches(obs.rule, obs.value)

    def _alert(self, obs: Observation) -> Alert:
        rule = obs.rule
        if rule.kind == AlertRule.Kind.ABSENCE:
            message = f"No {obs.series} from {obs.host.hostname} for {rule.window_seconds} s"
        elif obs.down:
            message = f"{obs.host.hostname} is down: {obs.down}"
            if _breaches(rule, obs.value):  # and slow in what it did answer
                message += (
                    f"; {obs.series} {rule.get_aggregation_display()} over "
                    f"{rule.window_seconds} s is {humanize_value(obs.value, obs.unit)} "
                    f"({rule.get_operator_display()} {humanize_value(rule.threshold, obs.unit)})"
                )
        else:
            what = (
                "growth per hour"
                if rule.kind == AlertRule.Kind.TREND
                else rule.get_aggregation_display()
            )
            unit = compared_unit(rule, obs.unit)
            message = (
                f"{obs.subject} {what} over {rule.window_seconds} s is "
                f"{humanize_value(obs.value, unit)} "
                f"({rule.get_operator_display()} {humanize_value(rule.threshold, unit)})"
            )
        name = parse_key(rule.metric)[0] if rule.metric else obs.series
        return Alert(
            alert_type=f"rule_{rule.pk}",
            title=f"{rule.name} - {_on_host(obs)}",
            message=message,
            priority=severity_for(rule, obs.value),
            category=rule.category,
            resource=obs.resource,
            labels={"series": obs.series},
            rule=rule,
            value=obs.value,
            threshold=rule.threshold,
            metadata={
                "rule": rule.name,
                "aggregation": rule.aggregation,
                "window_seconds": rule.window_seconds,
                "runbook_url": rule.runbook_url,
                "unit": obs.unit,
                **({"down": obs.down} if obs.down else {}),
                **_process_metadata(obs),
            },
            recommendations=[
                *rule.recommendations,
                *recommendations.for_metric(name, obs.host.hostname),
            ],
        )

    def _note(self, rule, kind, obs: Observation, reason: str) -> None:
        AlertEvent.objects.create(
            rule=rule,
            kind=kind,
            actor="evaluator",
            reason=reason,
            data={"target": obs.target, "value": obs.value},
        )


def _threshold(rule: AlertRule) -> float:
    assert rule.threshold is not None  # _Plan groups only rules with a threshold
    return rule.threshold


class _Group:
    """Rules on one metric that read it the same way, sorted by threshold."""

    def __init__(self, reading: str, rules: list[AlertRule]):
        self.reading = reading
        self.operator = rules[0].operator
        self.rules = sorted(rules, key=_threshold)
        self.size = len(self.rules)
        self.thresholds = [_threshold(r) for r in self.rules]

    def breached(self, value: float | None) -> list[AlertRule]:
        if value is None:
            return []
        op, t = self.operator, self.thresholds
        if op == AlertRule.Operator.GT:
            return self.rules[: bisect.bisect_left(t, value)]
        if op == AlertRule.Operator.GTE:
            return self.rules[: bisect.bisect_right(t, value)]
        if op == AlertRule.Operator.LT:
            return self.rules[bisect.bisect_right(t, value) :]
        if op == AlertRule.Operator.LTE:
            return self.rules[bisect.bisect_left(t, value) :]
        return [r for r in self.rules if _breaches(r, value)]


class _Plan:
    """How one window's rules are matched against its rows."""

    def __init__(self, rules: list[AlertRule], state_keys: set):
        groups: dict[tuple, list[AlertRule]] = defaultdict(list)
        self.filtered: dict[str, list[AlertRule]] = defaultdict(list)
        for rule in rules:
            if rule.kind == AlertRule.Kind.ABSENCE:
                continue
            if rule.host or rule._labels or rule.threshold is None:
                self.filtered[rule._name].append(rule)
            else:
                groups[(rule._name, _reading(rule), rule.operator)].append(rule)
        self.simple: dict[str, list[_Group]] = defaultdict(list)
        for (name, reading, _), members in groups.items():
            self.simple[name].append(_Group(reading, members))
        simple_ids = {r.pk: r for members in groups.values() for r in members}
        # Simple rules with a stored state on a target: they must be stepped even when
        # healthy (to resolve, or leave pending).
        self.stateful_simple: dict[tuple[str, str], list[AlertRule]] = defaultdict(list)
        for rule_id, target in state_keys:
            simple = simple_ids.get(rule_id)
            if simple is not None:
                self.stateful_simple[(simple._name, target)].append(simple)
        # Building "host/series" for every row costs more than the rest of the loop:
        # only done when some rule has a state or a filter to look it up by.
        self.needs_target = bool(self.stateful_simple or self.filtered)


def _fields(state: RuleState) -> tuple:
    """What of a stored state is saved at once when it changes (all but its last value)."""
    return (
        state.state,
        state.since,
        state.last_fired,
        state.resolved_at,
        list(state.changes or []),
        state.flapping,
        state.no_data,
        state.alert_id,
    )


def _reading(rule: AlertRule) -> str:
    return "trend" if rule.kind == AlertRule.Kind.TREND else str(rule.aggregation)


def _read(reading: str, aggregate, window: int, host, metric, latest=get_latest) -> float:
    """One value of a (host, metric) aggregate row, as a rule reads it (``latest``: how
    a host's latest values are read, for "last")."""
    count, avg, low, high, slope, percentiles = aggregate
    if reading == "avg":
        return avg
    if reading in _PERCENTILE_READINGS:
        return percentiles[_PERCENTILE_READINGS[reading]]
    if reading == "max":
        return high
    if reading == "min":
        return low
    if reading == "count":
        return float(count)
    if reading == "rate":
        return count / window
    if reading == "trend":
        # Growth per hour over the window (least squares), e.g. a memory leak.
        return slope * 3600
    # "last"
    value = latest(host)["values"].get(metric.key)
    return float(value) if value is not None else avg


def _cleared(rule: AlertRule, value: float | None) -> bool:
    """Whether a firing rule resolves at this value (past its clear threshold, if any)."""
    if rule.kind == AlertRule.Kind.ABSENCE:
        return value is not None
    assert value is not None  # no data is stepped as such (_no_data), never cleared
    clear = rule.clear_threshold
    if clear is None:
        return not _COMPARE[rule.operator](value, rule.threshold)
    if rule.operator in (AlertRule.Operator.GT, AlertRule.Operator.GTE):
        return value <= clear
    if rule.operator in (AlertRule.Operator.LT, AlertRule.Operator.LTE):
        return value >= clear
    return not _COMPARE[rule.operator](value, rule.threshold)


def _breaches(rule: AlertRule, value: float | None) -> bool:
    if rule.kind == AlertRule.Kind.ABSENCE:
        return value is None
    return value is not None and _COMPARE[rule.operator](value, rule.threshold)


def _applies(rule: AlertRule, host: Host, metric: Metric) -> bool:
    if metric.name != rule._name or (rule.host and host.hostname != rule.host):
        return False
    labels = rule._labels
    return all(metric.labels.get(k) == v for k, v in labels.items())


_PERCENTILE_READINGS = {"p50": 50, "p95": 95, "p99": 99}


def nearest_rank(ordered: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted values: what PostgreSQL's
    ``percentile_disc(p / 100)`` returns, so both databases read a window alike."""
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def _aggregate(
    metric_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    slope: bool,
    percentiles: Sequence[int] = (),
    percentile_ids: Sequence[int] = (),
    host_ids: Sequence[int] | None = None,
) -> dict:
    """(host, metric) -> (count, avg, min, max, slope per second, {percentile: value}),
    one query; percentiles (of ``percentile_ids`` only) in the same query on PostgreSQL,
    from one more query of the window's values on SQLite, which has no such aggregate.
    ``host_ids``: only these hosts' series (None: every host's)."""
    if not metric_ids:
        return {}
    hosts_sql, host_params = _hosts_clause(host_ids)
    table = MetricSample._meta.db_table
    low: datetime | str | None
    high: datetime | str | None
    params: list[Any]
    if connection.vendor == "postgresql":
        t = "EXTRACT(EPOCH FROM (time - %s))::double precision"
        low, high = start, end
    else:
        t = "((julianday(time) - julianday(%s)) * 86400.0)"
        low = connection.ops.adapt_datetimefield_value(start)
        high = connection.ops.adapt_datetimefield_value(end)
    bounds = (low, high)  # (the slope loop below reuses the names)
    placeholders = ", ".join(["%s"] * len(metric_ids))
    if slope:
        # Seconds since the window's start, for the least-squares slope: four uses of t.
        sums = f", SUM({t}), SUM(value * {t}), SUM({t} * {t}), SUM(value)"
        params = [low, low, low, low]
    else:
        sums, params = "", []
    sql = (
        f"SELECT host_id, metric_id, COUNT(*), AVG(value), MIN(value), MAX(value){sums} "
        f"FROM {table} WHERE time >= %s AND time <= %s AND metric_id IN ({placeholders})"
        f"{hosts_sql} GROUP BY host_id, metric_id"
    )
    params += [low, high, *metric_ids, *host_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not slope:
        result = {(row[0], row[1]): (*row[2:6], 0.0, {}) for row in rows}
    else:
        result = {}
        for host_id, metric_id, n, avg, low, high, st, svt, stt, sv in rows:
            denominator = n * stt - st * st
            rate = (n * svt - st * sv) / denominator if n > 1 and denominator else 0.0
            result[(host_id, metric_id)] = (n, avg, low, high, rate, {})
    if percentiles and percentile_ids:
        found_all = _percentiles(percentiles, percentile_ids, *bounds, host_ids=host_ids)
        for pair, found in found_all.items():
            if pair in result:
                result[pair][5].update(found)
    return result


def _hosts_clause(host_ids: Sequence[int] | None) -> tuple[str, list[int]]:
    """`` AND host_id IN (...)`` and its parameters, or nothing for every host."""
    if host_ids is None:
        return "", []
    return f" AND host_id IN ({', '.join(['%s'] * len(host_ids))})", list(host_ids)


def _percentiles(
    percentiles, metric_ids, low, high, host_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], dict[int, float]]:
    """(host, metric) -> {95: value, ...} over the window (``low``/``high`` as adapted for
    the database)."""
    table = MetricSample._meta.db_table
    placeholders = ", ".join(["%s"] * len(metric_ids))
    hosts_sql, host_params = _hosts_clause(host_ids)
    where = f"time >= %s AND time <= %s AND metric_id IN ({placeholders}){hosts_sql}"
    params = [low, high, *metric_ids, *host_params]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(
                f"percentile_disc({p / 100}) WITHIN GROUP (ORDER BY value)" for p in percentiles
            )
            cursor.execute(
                f"SELECT host_id, metric_id, {columns} FROM {table} WHERE {where} "
                "GROUP BY host_id, metric_id",
                params,
            )
            return {
                (row[0], row[1]): dict(zip(percentiles, row[2:], strict=True))
                for row in cursor.fetchall()
            }
        cursor.execute(
            f"SELECT host_id, metric_id, value FROM {table} WHERE {where} "
            "ORDER BY host_id, metric_id, value",
            params,
        )
        values: dict[tuple[int, int], list[float]] = defaultdict(list)
        for host_id, metric_id, value in cursor.fetchall():
            values[(host_id, metric_id)].append(value)
    return {
        pair: {p: nearest_rank(ordered, p) for p in percentiles} for pair, ordered in values.items()
    }


def _present(metric_ids: list[int], start: datetime, end: datetime) -> set[tuple[int, int]]:
    """(host, metric) pairs with a sample in [start, end]."""
    if not metric_ids:
        return set()
    return set(
        MetricSample.objects.filter(metric_id__in=metric_ids, time__gte=start, time__lte=end)
        .values_list("host_id", "metric_id")
        .distinct()
    )


def _recent_pairs(metric_ids: list[int], now: datetime) -> set[tuple[int, int]]:
    """(host, metric) pairs that reported in the last day: what 'no data' can refer to."""
    return set(
        MinuteRollup.objects.filter(metric_id__in=metric_ids, bucket__gte=now - timedelta(days=1))
        .values_list("host_id", "metric_id")
        .distinct()
    ) | set(
        MetricSample.objects.filter(metric_id__in=metric_ids, time__gte=now - timedelta(hours=1))
        .values_list("host_id", "metric_id")
        .distinct()
    )


def severity_for(rule: AlertRule, value: float | None) -> str:
    """The rule's severity, or for a latency rule one that grows with the overage: the
    steps of the console's auto-priority (more than 20 % over the threshold at least
    error, more than 50 % over critical), never below the rule's own severity. A repeat
    that reads worse escalates the open alert through the pipeline."""
    if (
        rule.kind != AlertRule.Kind.LATENCY
        or value is None
        or not rule.threshold
        or rule.operator not in (AlertRule.Operator.GT, AlertRule.Operator.GTE)
    ):
        return rule.severity
    stepped = Severity(priority_for_overage(_overage(value, rule.threshold)).value)
    own = Severity(rule.severity)
    return max(own, stepped, key=SEVERITY_RANK.__getitem__).value


def process_series(name: str, pid: int) -> str:
    """A process rule's series: one per process, ``python/4242``."""
    return f"{name}/{pid}"


def _on_host(obs: Observation) -> str:
    if obs.rule.kind == AlertRule.Kind.PROCESS_METRIC:
        return f"{obs.subject} on {obs.host.hostname}"
    return obs.host.hostname


def _process_metadata(obs: Observation) -> dict:
    if obs.rule.kind != AlertRule.Kind.PROCESS_METRIC:
        return {}
    name, _, pid = obs.series.rpartition("/")
    return {
        "host": obs.host.hostname,
        "process": name,
        "pid": int(pid) if pid.isdigit() else pid,
        "field": process_field(obs.rule),
    }


def process_field(rule: AlertRule) -> str:
    return "memory_percent" if "memory" in (rule.metric or "") else "cpu_percent"


def process_value(rule: AlertRule, values: list[float]) -> float:
    """A process rule's reading of its samples in the window, oldest first."""
    if rule.percentile:
        return nearest_rank(sorted(values), rule.percentile)
    readers: dict[str, Callable[[list[float]], float]] = {
        AlertRule.Aggregation.MAX: max,
        AlertRule.Aggregation.MIN: min,
        AlertRule.Aggregation.COUNT: lambda v: float(len(v)),
        AlertRule.Aggregation.LAST: lambda v: v[-1],
    }
    return readers.get(rule.aggregation, lambda v: sum(v) / len(v))(values)


def compared_unit(rule: AlertRule, unit: str) -> str:
    """The unit of the value a rule compares, given its metric's: a trend rule compares
    growth per hour."""
    if rule.kind == AlertRule.Kind.TREND:
        return f"{unit} per hour" if unit else "per hour"
    return unit


def service_unit(rule: AlertRule) -> str:
    """What a service rule reads: failed checks (count, or per second) or milliseconds."""
    units: dict[str, str] = {
        AlertRule.Aggregation.COUNT: "count",
        AlertRule.Aggregation.RATE: "per_second",
    }
    return units.get(rule.aggregation, "ms")


class ServiceReading(NamedTuple):
    value: float | None
    unit: str
    down: str = ""  # why the endpoint reads as down ("" when it does not)


def service_value(rule: AlertRule, checks: list[tuple], retries: int = 0) -> ServiceReading | None:
    """A service rule's reading of the (time, failed, response_ms[, error]) checks in
    its window: the failed checks (count, or rate per second) or the response time in ms.

    A response-time rule (seed 002's ``max_response_time_ms``) also reads the endpoint
    as down when its newest ``retries + 1`` checks in the window all failed, as the
    endpoint itself turns DOWN: the answers a failing service does give (a fast HTTP 500)
    must not make it look healthy. None when there is nothing to read: no check in the
    window (the monitoring-gap alert says so), or no response time and not down."""
    if not checks:
        return None
    failed = sum(1 for c in checks if c[1])
    times = [c[2] for c in checks if c[2] is not None]
    unit = service_unit(rule)
    match rule.aggregation:
        case AlertRule.Aggregation.COUNT:
            return ServiceReading(float(failed), unit)
        case AlertRule.Aggregation.RATE:
            return ServiceReading(failed / (rule.window_seconds or 60), unit)
    down = _down(checks, retries)
    if not times:
        return ServiceReading(None, unit, down) if down else None
    match rule.aggregation:
        case AlertRule.Aggregation.MAX:
            value = max(times)
        case AlertRule.Aggregation.MIN:
            value = min(times)
        case AlertRule.Aggregation.LAST:
            value = times[-1]
        case _ if rule.percentile:
            value = nearest_rank(sorted(times), rule.percentile)
        case _:
            value = sum(times) / len(times)
    return ServiceReading(value, unit, down)


def _down(checks: list[tuple], retries: int) -> str:
    """Why the newest ``retries + 1`` checks say the endpoint is down, or ""."""
    needed = retries + 1
    newest = checks[-needed:]
    if len(newest) < needed or not all(c[1] for c in newest):
        return ""
    what = "the last check failed" if needed == 1 else f"the last {needed} checks failed"
    error = newest[-1][3] if len(newest[-1]) > 3 else ""
    return f"{what} ({error})" if error else what


def service_series(unit: str) -> str:
    return "response_ms" if unit == "ms" else "failed_checks"


def _cleared_value(obs: Observation) -> str:
    """The value that cleared a rule, as its message put it: with the unit."""
    if obs.value is None:
        return "no data"
    return humanize_value(obs.value, compared_unit(obs.rule, obs.unit))
