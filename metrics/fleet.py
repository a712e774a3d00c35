"""The fleet at a glance: every host's state, fullest resources, recent trend and open
alerts, sorted, filtered, searched and paginated, for the Hosts page and
``GET /api/v1/hosts``.

Built to stay flat at fleet size: one query for the hosts, one read of the "latest"
cache for all of them (sorting by CPU needs every host's value), one GROUP BY for the
open alerts (through a hook the alerts app registers), and one query for the minute
roll-ups behind the sparklines of the page's rows only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.utils import timezone

from metrics.catalog import parse_key
from metrics.ingest import latest_cache_key
from metrics.models import Host, Metric, MinuteRollup
from opsconsole import thresholds

if TYPE_CHECKING:
    from django.http import QueryDict

OK, CRITICAL, NO_DATA, STALE = "ok", "critical", "no_data", "stale"
STATES = {OK: "OK", CRITICAL: "Critical load", NO_DATA: "No data", STALE: "Stale"}
# Worst first: the default order puts the hosts that need a look at the top.
STATE_RANK = {CRITICAL: 0, STALE: 1, NO_DATA: 2, OK: 3}
SORTS = ("state", "hostname", "cpu", "memory", "disk", "last_seen", "alerts")
PER_PAGE = 50
MAX_PER_PAGE = 200
SPARK_MINUTES = 60
SPARK_METRICS = {"cpu": "cpu_usage_percent", "memory": "memory_usage_percent"}
DISK_METRIC = "disk_usage_percent"

# Open alerts per host name, registered by the alerts app (which the metrics app does
# not import): {hostname: count}.
_open_alerts: Callable[[], dict[str, int]] | None = None


def register_open_alerts(counter: Callable[[], dict[str, int]]) -> None:
    global _open_alerts
    _open_alerts = counter


# Open alerts on one host per gauge ({"cpu": 2, ...}), so each gauge of the System
# Monitor links to the alerts it raised; registered by the alerts app too.
_gauge_alerts: Callable[[str], dict[str, int]] | None = None


def register_gauge_alerts(counter: Callable[[str], dict[str, int]]) -> None:
    global _gauge_alerts
    _gauge_alerts = counter


def gauge_alerts(hostname: str) -> dict[str, int]:
    """Open alerts on the host per gauge; none counted when no app registered a counter."""
    return _gauge_alerts(hostname) if _gauge_alerts is not None else {}


@dataclass
class FleetHost:
    id: int
    hostname: str
    state: str
    cpu_percent: float | None
    memory_percent: float | None
    disk_percent: float | None
    disk_mount: str | None
    last_seen: datetime | None
    open_alerts: int
    labels: dict
    sparklines: dict[str, list[float]] = field(default_factory=dict)

    @property
    def state_label(self) -> str:
        return STATES[self.state]


@dataclass
class FleetPage:
    hosts: list[FleetHost]
    paged: Page  # Django's page: numbers, neighbours, first and last index
    states: dict[str, int]

    @property
    def count(self) -> int:
        return self.paged.paginator.count

    @property
    def number(self) -> int:
        return self.paged.number

    @property
    def pages(self) -> int:
        return self.paged.paginator.num_pages

    @property
    def per_page(self) -> int:
        return self.paged.paginator.per_page


def state_of(values: dict, last_seen: datetime | None, limits: dict, now: datetime) -> str:
    """No data (nothing known), stale (silent for three collection intervals, as
    ``Host.is_stale``), critical load (CPU, memory or a disk over its threshold), ok."""
    if last_seen is None:
        return NO_DATA
    # Silent is stale whether or not its last values are still in the cache (an entry a
    # full cache dropped must not turn a silent host into one that never reported).
    if now - last_seen > timedelta(seconds=3 * settings.METRICS_COLLECTION_INTERVAL):
        return STALE
    if not values:
        return NO_DATA
    disk = _fullest_disk(values)[1]
    over = (
        (values.get("cpu_usage_percent") or 0) > limits["cpu"]
        or (values.get("memory_usage_percent") or 0) > limits["memory"]
        or (disk or 0) > limits["disk"]
    )
    return CRITICAL if over else OK


def _fullest_disk(values: dict) -> tuple[str | None, float | None]:
    fullest: tuple[str | None, float | None] = (None, None)
    for key, value in values.items():
        if not key.startswith(DISK_METRIC + "{"):
            continue
        name, labels = parse_key(key)
        if name == DISK_METRIC and (fullest[1] is None or value > fullest[1]):
            fullest = (labels.get("mount"), value)
    return fullest


def _sort_key(sort: str) -> Callable[[FleetHost], tuple]:
    """Each column's natural order: worst state, busiest, newest and most alerted first,
    names A-Z; ties by name."""

    def measured(attribute: str) -> Callable[[FleetHost], tuple]:
        return lambda h: (-(getattr(h, attribute) or 0), h.hostname)

    return {
        "state": lambda h: (STATE_RANK[h.state], -h.open_alerts, h.hostname),
        "hostname": lambda h: (h.hostname,),
        "cpu": measured("cpu_percent"),
        "memory": measured("memory_percent"),
        "disk": measured("disk_percent"),
        "last_seen": lambda h: (-h.last_seen.timestamp() if h.last_seen else 0, h.hostname),
        "alerts": lambda h: (-h.open_alerts, STATE_RANK[h.state], h.hostname),
    }[sort]


_SORTED_FIELD = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "disk": "disk_percent",
    "last_seen": "last_seen",
}


def _sorted(rows: list[FleetHost], sort: str, descending: bool) -> list[FleetHost]:
    """Sorted by ``sort``, reversed if asked; hosts without the value last either way."""
    attribute = _SORTED_FIELD.get(sort)
    missing = [r for r in rows if attribute and getattr(r, attribute) is None]
    present = [r for r in rows if not (attribute and getattr(r, attribute) is None)]
    present.sort(key=_sort_key(sort), reverse=descending)
    missing.sort(key=lambda h: h.hostname)
    return present + missing


def fleet(
    *,
    q: str = "",
    state: str = "",
    sort: str = "state",
    descending: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
    sparklines: bool = True,
    host_ids: list[int] | None = None,
) -> FleetPage:
    """One page of the fleet. ``sort`` is one of SORTS (each in its natural order:
    worst state, busiest and newest first, names A-Z); ``descending`` reverses it."""
    now = timezone.now()
    limits = thresholds.current()
    chosen = Host.objects.filter(enabled=True).only("id", "hostname", "last_seen", "labels")
    if q:
        chosen = chosen.filter(hostname__icontains=q.strip())
    if host_ids is not None:
        chosen = chosen.filter(pk__in=host_ids)
    hosts = list(chosen)
    latest = cache.get_many([latest_cache_key(host.pk) for host in hosts])
    alerts = _open_alerts() if _open_alerts is not None else {}
    rows = []
    for host in hosts:
        values = (latest.get(latest_cache_key(host.pk)) or {}).get("values", {})
        mount, disk = _fullest_disk(values)
        rows.append(
            FleetHost(
                id=host.pk,
                hostname=host.hostname,
                state=state_of(values, host.last_seen, limits, now),
                cpu_percent=values.get("cpu_usage_percent"),
                memory_percent=values.get("memory_usage_percent"),
                disk_percent=disk,
                disk_mount=mount,
                last_seen=host.last_seen,
                open_alerts=alerts.get(host.hostname, 0),
                labels=host.labels or {},
            )
        )
    states = dict.fromkeys(STATES, 0)
    for row in rows:
        states[row.state] += 1
    if state:
        rows = [row for row in rows if row.state == state]
    rows = _sorted(rows, sort, descending)
    paged = Paginator(rows, max(1, min(per_page, MAX_PER_PAGE))).get_page(page)
    shown = list(paged.object_list)
    if sparklines:
        _add_sparklines(shown, now)
    return FleetPage(hosts=shown, paged=paged, states=states)


def _add_sparklines(rows: list[FleetHost], now: datetime) -> None:
    """The last hour per minute (the roll-ups: one query for the page), CPU and memory,
    and the fullest disk of each minute, each ending at the latest value."""
    if not rows:
        return
    metrics = {
        metric.pk: metric
        for metric in Metric.objects.filter(name__in=[*SPARK_METRICS.values(), DISK_METRIC]).only(
            "id", "name"
        )
    }
    by_name = {name: gauge for gauge, name in SPARK_METRICS.items()}
    series: dict[tuple[int, str], dict[datetime, float]] = defaultdict(dict)
    if metrics:
        # Served by the roll-up's primary key (host, metric, bucket).
        found = MinuteRollup.objects.filter(
            host_id__in=[row.id for row in rows],
            metric_id__in=list(metrics),
            bucket__gte=now - timedelta(minutes=SPARK_MINUTES),
        ).values_list("host_id", "metric_id", "bucket", "sum", "count", "max")
        for host_id, metric_id, bucket, total, count, high in found:
            name = metrics[metric_id].name
            if name == DISK_METRIC:
                points = series[(host_id, "disk")]
                points[bucket] = max(points.get(bucket, 0.0), high)
            elif count:
                series[(host_id, by_name[name])][bucket] = total / count
    for row in rows:
        for gauge, latest in (
            ("cpu", row.cpu_percent),
            ("memory", row.memory_percent),
            ("disk", row.disk_percent),
        ):
            line = [value for _, value in sorted(series.get((row.id, gauge), {}).items())]
            if latest is not None and row.state != STALE:
                line.append(latest)
            row.sparklines[gauge] = line


def params_from(query: QueryDict) -> dict[str, Any]:
    """The fleet arguments a page's query string asks for; anything unknown falls back
    to the default rather than failing the page."""
    sort = query.get("sort", "state")
    state = query.get("state", "")
    try:
        page = int(query.get("page", "1"))
    except ValueError:
        page = 1
    return {
        "q": query.get("q", "").strip()[:255],
        "state": state if state in STATES else "",
        "sort": sort if sort in SORTS else "state",
        "descending": query.get("order") == "desc",
        "page": max(1, min(page, 1_000_000)),
    }
