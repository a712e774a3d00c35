"""Which alerts an operator asked for: one filter for the API's list, the console's pages
and the live list's websocket, so the three show the same alerts for the same question.

``AlertFilter.as_q()`` is the query (``Alert.objects.filtered(chosen)``) and
``AlertFilter.matches(alert)`` the same test on one alert in memory (a live page asks it
on every change). Text filters are what a person types into a search box: a resource
matches case-insensitively anywhere in the name (``db-0`` finds ``db-01`` and
``orders-db-02``), the free text looks in the title, message, resource and type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from alerts.constants import OPEN_STATUSES, Severity

if TYPE_CHECKING:
    from alerts.models import Alert

# Least severe first: "this severity or worse" is a slice from its index on.
SEVERITY_ORDER: list[str] = list(Severity.values)


@dataclass(frozen=True)
class AlertFilter:
    """Already-validated filter values (the API's schema and the console's query-string
    parser check them first, each answering bad input in its own way)."""

    # "open" (active, acknowledged or suppressed), "all", or one status.
    status: str = "all"
    # This severity or worse (a canonical value, aliases already resolved).
    severity: str = ""
    category: str = ""
    # Case-insensitive, anywhere in the resource.
    resource: str = ""
    # A host's alerts: the resource is the host, or the alert's ``host`` label is.
    host: str = ""
    # The alert's series label or metadata metric starts with this.
    metric: str = ""
    # Case-insensitive, anywhere in the title, message, resource or alert type.
    q: str = ""
    seen_since: datetime | None = None
    # The alerts of one notification group.
    group: int = 0

    def severities(self) -> list[str]:
        return SEVERITY_ORDER[SEVERITY_ORDER.index(self.severity) :]

    def as_q(self) -> Q:
        """The filter as one query condition (the group join aside: see ``filtered``)."""
        where = Q()
        if self.status == "open":
            where &= Q(status__in=OPEN_STATUSES)
        elif self.status != "all":
            where &= Q(status=self.status)
        if self.severity:
            where &= Q(severity__in=self.severities())
        if self.category:
            where &= Q(category=self.category)
        if self.resource:
            where &= Q(resource__icontains=self.resource)
        if self.host:
            where &= Q(resource=self.host) | Q(labels__host=self.host)
        if self.metric:
            where &= Q(labels__series__startswith=self.metric) | Q(
                metadata__metric__startswith=self.metric
            )
        if self.q:
            where &= (
                Q(title__icontains=self.q)
                | Q(message__icontains=self.q)
                | Q(resource__icontains=self.q)
                | Q(alert_type__icontains=self.q)
            )
        if self.seen_since:
            where &= Q(last_seen__gte=self.seen_since)
        if self.group:
            where &= Q(group_memberships__group_id=self.group)
        return where

    def matches(self, alert: Alert) -> bool:
        """``as_q()`` on one alert in memory: every condition in the same order."""
        return all(test(alert) for test in self._tests())

    def _tests(self) -> Iterator[Callable[[Alert], bool]]:
        if self.status == "open":
            yield lambda a: a.status in OPEN_STATUSES
        elif self.status != "all":
            yield lambda a: a.status == self.status
        if self.severity:
            yield lambda a: a.severity in self.severities()
        if self.category:
            yield lambda a: a.category == self.category
        if self.resource:
            yield lambda a: self.resource.lower() in a.resource.lower()
        if self.host:
            yield lambda a: self.host in (a.resource, (a.labels or {}).get("host"))
        if self.metric:
            yield (
                lambda a: (
                    _starts(_label(a, "series"), self.metric)
                    or _starts((a.metadata or {}).get("metric"), self.metric)
                )
            )
        if self.q:
            needle = self.q.lower()
            yield lambda a: any(
                needle in (text or "").lower()
                for text in (a.title, a.message, a.resource, a.alert_type)
            )
        if since := self.seen_since:
            yield lambda a: a.last_seen >= since
        if self.group:
            # Last: the one test that asks the database.
            yield lambda a: a.group_memberships.filter(group_id=self.group).exists()


def _label(alert: Alert, name: str) -> Any:
    return (alert.labels or {}).get(name)


def _starts(value: Any, prefix: str) -> bool:
    # The database compares a JSON value's text (a number's digits); so does this.
    return value is not None and str(value).startswith(prefix)
