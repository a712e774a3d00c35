"""What the alerts console shows and does: its filters, its ordering, its counts, and
the actions a responder takes from it. Views and websocket consumers stay thin on top.

The filters live in the page's URL, so a filtered view can be bookmarked and shared;
the same filters decide, for a live change, whether the changed alert belongs on a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.utils import timezone

from alerts.constants import OPEN_STATUSES, Category, Status, parse_severity
from alerts.filtering import SEVERITY_ORDER, AlertFilter
from alerts.models import Alert, AlertEvent, AlertQuerySet
from alerts.service import AlertService, AlertStateError

PAGE_SIZE = 50
# Time ranges offered for "last seen within".
RANGES = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
STATUS_CHOICES = ["open", "all", *Status.values]
# Durations offered for suppressing, in hours.
SUPPRESS_HOURS = [0.5, 1, 2, 4, 8, 24, 72]
ACTIONS = ("acknowledge", "resolve", "suppress")


# The filters a query string holds as they are (status, severity, ..., q), in
# AlertFilter's order; the time and the group are said as ``range`` and ``group``.
_TEXT_FILTERS = tuple(f.name for f in fields(AlertFilter) if f.type in (str, "str"))


@dataclass(frozen=True)
class Filters(AlertFilter):
    """The console's filters: the list's question (``AlertFilter``'s fields, open alerts
    by default, a message's "open in the console" link naming its group) and the page's
    own state. The time is a ``range`` ("24h"), counted back from whenever the
    question is asked (``selection``), so ``seen_since`` stays unset here."""

    status: str = "open"
    range: str = ""
    page: int = 1
    errors: tuple[str, ...] = field(default=(), compare=False)

    def as_query(self, **changes: Any) -> dict[str, str]:
        """The non-default filters as URL parameters (for links and the websocket)."""
        chosen = replace(self, **changes)
        params = {
            name: str(getattr(chosen, name)) for name in _TEXT_FILTERS if getattr(chosen, name)
        }
        if chosen.range:
            params["range"] = chosen.range
        if chosen.group:
            params["group"] = str(chosen.group)
        if chosen.page > 1:
            params["page"] = str(chosen.page)
        return params

    @property
    def active(self) -> list[str]:
        """The filters in force beyond the default (open alerts, any severity), in
        words: what the folded filter panel says it holds."""
        words = [] if self.status == "open" else [f"status {self.status}"]
        if self.severity:
            words.append(f"{self.severity} or worse")
        words.extend(
            f"{name} {getattr(self, name)}"
            for name in ("category", "resource", "host", "metric")
            if getattr(self, name)
        )
        if self.q:
            words.append(f"text {self.q!r}")
        if self.range:
            words.append(f"seen within {self.range}")
        if self.group:
            words.append(f"group #{self.group}")
        return words

    def selection(self, now: datetime | None = None) -> AlertFilter:
        """The alerts these filters ask for (the range counted back from ``now``)."""
        since = (now or timezone.now()) - RANGES[self.range] if self.range else None
        return replace(self, seen_since=since)

    @property
    def any(self) -> bool:
        return bool(set(self.as_query()) - {"status", "page"}) or self.status != "open"


def parse_filters(params) -> Filters:
    """Filters from a query string. A bad value is dropped with a readable error, so the
    page still shows something useful."""
    errors: list[str] = []
    values: dict = {}
    status = (params.get("status") or "open").strip().lower()
    if status in STATUS_CHOICES:
        values["status"] = status
    else:
        errors.append(f"Unknown status {status!r}: showing open alerts.")
    severity = (params.get("severity") or "").strip()
    if severity:
        try:
            values["severity"] = parse_severity(severity).value
        except ValueError as exc:
            errors.append(f"Severity filter ignored: {exc}.")
    category = (params.get("category") or "").strip().lower()
    if category:
        if category in Category.values:
            values["category"] = category
        else:
            errors.append(f"Unknown category {category!r}: filter ignored.")
    for name in ("resource", "host", "metric", "q"):
        text = (params.get(name) or "").strip()
        if text:
            values[name] = text[:200]
    chosen_range = (params.get("range") or "").strip()
    if chosen_range:
        if chosen_range in RANGES:
            values["range"] = chosen_range
        else:
            errors.append(
                f"Unknown time range {chosen_range!r} (one of {', '.join(RANGES)}): ignored."
            )
    group = (params.get("group") or "").strip()
    if group:
        if group.isdigit() and 0 < int(group) < 2**31:
            values["group"] = int(group)
        else:
            errors.append(f"Group {group[:20]!r} is not a group number: filter ignored.")
    page = params.get("page") or "1"
    try:
        values["page"] = max(1, int(page))
    except ValueError:
        errors.append(f"Page {page!r} is not a number: showing the first page.")
    return Filters(**values, errors=tuple(errors))


def filter_alerts(filters: Filters, now: datetime | None = None) -> AlertQuerySet:
    return Alert.objects.filtered(filters.selection(now))


def most_severe_first(alerts: AlertQuerySet) -> AlertQuerySet:
    """The lists' order (``AlertQuerySet.most_severe_first``), for callers holding a queryset."""
    return alerts.most_severe_first()


# The System Monitor's gauges, by the start of the metric names their alerts watch.
GAUGE_METRICS = ("cpu", "memory", "disk", "swap", "load")


def gauge_alerts(hostname: str) -> dict[str, int]:
    """Open alerts on a host per gauge ({"cpu": 2, ...}), so each gauge can link to the
    alerts it raised."""
    counts = dict.fromkeys(GAUGE_METRICS, 0)
    for labels, metadata in Alert.objects.filter(
        status__in=OPEN_STATUSES, resource=hostname
    ).values_list("labels", "metadata"):
        name = str((labels or {}).get("series") or (metadata or {}).get("metric") or "")
        for gauge in GAUGE_METRICS:
            if name.startswith(gauge):
                counts[gauge] += 1
                break
    return counts


def open_alerts_by_host() -> dict[str, int]:
    """Open alerts per resource (a host's alerts name it), in one GROUP BY: the Hosts
    page's column (registered with metrics.fleet)."""
    return dict(
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .exclude(resource="")
        .values_list("resource")
        .annotate(open=Count("id"))
        .values_list("resource", "open")
    )


@dataclass
class Page:
    alerts: list[Alert]
    count: int
    number: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.count else 0

    @property
    def last_index(self) -> int:
        return min(self.number * PAGE_SIZE, self.count)


def page_of(filters: Filters) -> Page:
    alerts = filter_alerts(filters)
    count = alerts.count()
    pages = max(1, -(-count // PAGE_SIZE))
    number = min(filters.page, pages)
    start = (number - 1) * PAGE_SIZE
    rows = list(alerts.most_severe_first().select_related("rule")[start : start + PAGE_SIZE])
    return Page(alerts=rows, count=count, number=number, pages=pages)


def page_count(filters: Filters) -> Page:
    """The page's numbers without its rows (the live list's count and pager)."""
    count = filter_alerts(filters).count()
    pages = max(1, -(-count // PAGE_SIZE))
    return Page(alerts=[], count=count, number=min(filters.page, pages), pages=pages)


def pager_queries(filters: Filters, page: Page) -> dict[str, str]:
    """The query strings of the pager's links, the page's filters kept."""
    return {
        "previous_query": urlencode(filters.as_query(page=page.number - 1)),
        "next_query": urlencode(filters.as_query(page=page.number + 1)),
    }


@dataclass
class Pending:
    """A rule whose condition holds for a target but whose ``for`` has not run out."""

    rule: str
    rule_id: int
    target: str
    since: datetime
    fires_at: datetime
    value: float | None
    unit: str


def pending(limit: int = 20) -> list[Pending]:
    """What will fire unless it gets better, soonest first (enabled rules only)."""
    from alerts.models import RuleState

    states = (
        RuleState.objects.filter(state=RuleState.State.PENDING, rule__enabled=True)
        .select_related("rule")
        .order_by("since")[: limit * 4]
    )
    found = [
        Pending(
            rule=s.rule.name,
            rule_id=s.rule_id,
            target=s.target,
            since=s.since,
            fires_at=s.since + timedelta(seconds=s.rule.for_seconds),
            value=s.last_value,
            unit=_unit_of(s.rule),
        )
        for s in states
    ]
    return sorted(found, key=lambda p: p.fires_at)[:limit]


def _unit_of(rule) -> str:
    from metrics.catalog import parse_key, unit_of

    try:
        name, _ = parse_key(rule.metric or "")
    except ValueError:
        return ""
    return unit_of(name)


def open_counts() -> dict[str, int]:
    """Open alerts per severity, most severe first, every severity present."""
    counted = dict(
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .values_list("severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {name: counted.get(name, 0) for name in reversed(SEVERITY_ORDER)}


def last_event_id() -> int:
    """Where a page's live stream starts: changes after this are sent to it."""
    return AlertEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_since(event_id: int, *, alert_id: int | None = None, limit: int = 500):
    """Timeline events a reconnecting page missed, oldest first."""
    events = AlertEvent.objects.filter(id__gt=event_id, alert__isnull=False)
    if alert_id is not None:
        events = events.filter(alert_id=alert_id)
    return list(events.order_by("id")[:limit])


# -- actions --------------------------------------------------------------------------------
@dataclass
class Outcome:
    done: list[Alert] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = []
        if self.done:
            parts.append(f"{len(self.done)} alert{'s' if len(self.done) != 1 else ''} updated")
        if self.failed:
            parts.append("; ".join(message for _, message in self.failed))
        return ". ".join(parts) or "Nothing to do: no alert was chosen."


class ActionError(ValueError):
    """The request itself is wrong (unknown action, bad duration): nothing was changed."""


def parse_duration(value: str | None) -> float:
    if value in (None, ""):
        raise ActionError("Choose how long to suppress for.")
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ActionError(f"Suppress duration {value!r} is not a number of hours.") from None
    if not 0 < hours <= 24 * 30:
        raise ActionError("Suppress for more than 0 and at most 720 hours.")
    return hours


def act(
    actor: str,
    action: str,
    alert_ids: list[int],
    *,
    notes: str = "",
    duration_hours: str | float | None = None,
) -> Outcome:
    """Acknowledge, resolve or suppress each alert through AlertService. One alert that
    cannot make the change (already resolved, say) does not stop the others."""
    if action not in ACTIONS:
        raise ActionError(f"Unknown action {action!r} (one of {', '.join(ACTIONS)}).")
    hours = 0.0  # read by a suppress only, which parses its own
    if action == "suppress":
        hours = parse_duration(None if duration_hours is None else str(duration_hours))
    service = AlertService()
    outcome = Outcome()
    for alert_id in dict.fromkeys(alert_ids):
        try:
            if action == "acknowledge":
                alert = service.acknowledge_alert(alert_id, acknowledged_by=actor, notes=notes)
            elif action == "resolve":
                alert = service.resolve_alert(alert_id, resolved_by=actor, resolution_notes=notes)
            else:
                alert = service.suppress_alert(
                    alert_id, suppressed_by=actor, reason=notes, duration_hours=hours
                )
        except AlertStateError as exc:
            outcome.failed.append((alert_id, _sentence(str(exc))))
        except Alert.DoesNotExist:
            outcome.failed.append((alert_id, f"Alert #{alert_id} does not exist"))
        else:
            outcome.done.append(alert)
    return outcome


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
